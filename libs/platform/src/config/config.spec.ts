import { base_config_schema, parseConfig } from './config.js';

const valid = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/paynet',
  NATS_URL: 'nats://127.0.0.1:4222',
  ADMIN_TOKEN: 'a'.repeat(32),
  SECRETS_KEY: Buffer.alloc(32).toString('base64'),
};

describe('config validated at boot', () => {
  it('accepts a complete environment and fills defaults', () => {
    const config = parseConfig(base_config_schema, valid);
    expect(config.NATS_PREFIX).toBe('paynet');
    expect(config.DATABASE_POOL_SIZE).toBe(20);
  });

  it('names a missing variable in one line', () => {
    const { NATS_URL: _, ...without } = valid;
    expect(() => parseConfig(base_config_schema, without)).toThrow('config: NATS_URL is required');
  });

  it('names a bad variable and says what is wrong', () => {
    expect(() => parseConfig(base_config_schema, { ...valid, SECRETS_KEY: 'short' })).toThrow(
      'config: SECRETS_KEY must be 32 bytes, base64 encoded',
    );
    expect(() => parseConfig(base_config_schema, { ...valid, DATABASE_URL: 'mysql://x' })).toThrow(/^config: DATABASE_URL/);
  });

  it('reads SECRETS_KEY_PREVIOUS as a comma-separated list of keys, empty when unset, and refuses a bad one', () => {
    const old = Buffer.alloc(32, 1).toString('base64');
    const older = Buffer.alloc(32, 2).toString('base64');
    expect(parseConfig(base_config_schema, valid).SECRETS_KEY_PREVIOUS).toEqual([]);
    expect(parseConfig(base_config_schema, { ...valid, SECRETS_KEY_PREVIOUS: `${old}, ${older}` }).SECRETS_KEY_PREVIOUS).toEqual([old, older]);
    expect(() => parseConfig(base_config_schema, { ...valid, SECRETS_KEY_PREVIOUS: `${old},short` })).toThrow(/^config: SECRETS_KEY_PREVIOUS must be 32-byte keys/);
  });

  it('keeps idempotency keys 48 h by default and refuses a retention under the 24 h API.md promises', () => {
    expect(parseConfig(base_config_schema, valid).IDEMPOTENCY_RETENTION_SECONDS).toBe(172_800);
    expect(parseConfig(base_config_schema, { ...valid, IDEMPOTENCY_RETENTION_SECONDS: '86400' }).IDEMPOTENCY_RETENTION_SECONDS).toBe(86_400);
    expect(() => parseConfig(base_config_schema, { ...valid, IDEMPOTENCY_RETENTION_SECONDS: '86399' })).toThrow(
      'config: IDEMPOTENCY_RETENTION_SECONDS must be at least 86400 (24 h, API.md)',
    );
  });
});
