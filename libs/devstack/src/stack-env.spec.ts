import {
  buildStackEnv,
  generateAdminToken,
  generateSecretsKey,
  isValidSecretsKey,
  serviceNames,
  servicePortsFromEnv,
  type StackSettings,
} from './stack-env.js';

const settings: StackSettings = {
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/paynet',
  natsUrl: 'nats://127.0.0.1:4222',
  natsPrefix: 't_abc',
  adminToken: generateAdminToken(),
  secretsKey: generateSecretsKey(),
  ports: { accounts: 4001, merchants: 4002, payments: 4003, push: 4004 },
};

describe('the stack environment', () => {
  it('gives every service the whole env contract, each port under its own name', () => {
    const env = buildStackEnv({ ...settings, webhookRetryScale: 0.001 });
    expect(env).toEqual({
      DATABASE_URL: settings.databaseUrl,
      NATS_URL: settings.natsUrl,
      NATS_PREFIX: 't_abc',
      ADMIN_TOKEN: settings.adminToken,
      SECRETS_KEY: settings.secretsKey,
      WEBHOOK_RETRY_SCALE: '0.001',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'info',
      ACCOUNTS_PORT: '4001',
      MERCHANTS_PORT: '4002',
      PAYMENTS_PORT: '4003',
      PUSH_PORT: '4004',
    });
  });

  it('refuses a NATS prefix outside [A-Za-z0-9_-]{1,32}, a short token and a wrong-sized key', () => {
    expect(() => buildStackEnv({ ...settings, natsPrefix: '' })).toThrow(RangeError);
    expect(() => buildStackEnv({ ...settings, natsPrefix: 'a.b' })).toThrow(RangeError);
    expect(() => buildStackEnv({ ...settings, natsPrefix: 'x'.repeat(33) })).toThrow(RangeError);
    expect(() => buildStackEnv({ ...settings, natsPrefix: 'x'.repeat(32) })).not.toThrow();
    expect(() => buildStackEnv({ ...settings, adminToken: 'short' })).toThrow(RangeError);
    expect(() => buildStackEnv({ ...settings, secretsKey: Buffer.alloc(31).toString('base64') })).toThrow(RangeError);
  });

  it('generates 32-byte secrets keys and distinct tokens', () => {
    expect(isValidSecretsKey(generateSecretsKey())).toBe(true);
    expect(generateAdminToken()).not.toBe(generateAdminToken());
    expect(isValidSecretsKey('not base64!')).toBe(false);
  });

  it('reads port overrides from *_PORT and rejects what is not a port', () => {
    expect(servicePortsFromEnv({})).toEqual({ accounts: 3001, merchants: 3002, payments: 3003, push: 3004 });
    expect(servicePortsFromEnv({ PUSH_PORT: '8004' }).push).toBe(8004);
    expect(() => servicePortsFromEnv({ ACCOUNTS_PORT: '0' })).toThrow(/ACCOUNTS_PORT/);
    expect(() => servicePortsFromEnv({ MERCHANTS_PORT: '65536' })).toThrow(/MERCHANTS_PORT/);
    expect(() => servicePortsFromEnv({ PAYMENTS_PORT: 'abc' })).toThrow(/PAYMENTS_PORT/);
  });

  it('names the four services in a fixed order', () => {
    expect(serviceNames).toEqual(['accounts', 'merchants', 'payments', 'push']);
  });
});
