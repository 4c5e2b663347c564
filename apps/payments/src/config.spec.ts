import { parseConfig } from '@paynet/platform';
import { payments_config_schema } from './config.js';

const valid = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/paynet',
  NATS_URL: 'nats://127.0.0.1:4222',
  ADMIN_TOKEN: 'a'.repeat(32),
  SECRETS_KEY: Buffer.alloc(32).toString('base64'),
};

describe('payments risk settings, validated at boot', () => {
  it('has no limits and no verifier unless set, and sane verifier defaults', () => {
    const config = parseConfig(payments_config_schema, valid);
    expect(config.RISK_MAX_AMOUNT_MINOR).toBeUndefined();
    expect(config.RISK_VELOCITY_COUNT_PER_MINUTE).toBeUndefined();
    expect(config.RISK_VELOCITY_AMOUNT_MINOR_PER_MINUTE).toBeUndefined();
    expect(config.RISK_VERIFY_URL).toBeUndefined();
    expect(config).toMatchObject({ RISK_VERIFY_TIMEOUT_MS: 800, RISK_VERIFY_FAIL_MODE: 'open', RISK_VERIFY_BREAKER_FAILURES: 5 });
  });

  it('reads amounts as bigint minor units, beyond what a float holds exactly', () => {
    const config = parseConfig(payments_config_schema, { ...valid, RISK_MAX_AMOUNT_MINOR: '1', RISK_VELOCITY_AMOUNT_MINOR_PER_MINUTE: '900719925474099301' });
    expect(config.RISK_MAX_AMOUNT_MINOR).toBe(1n);
    expect(config.RISK_VELOCITY_AMOUNT_MINOR_PER_MINUTE).toBe(900_719_925_474_099_301n);
  });

  it.each([
    ['RISK_MAX_AMOUNT_MINOR', '0'],
    ['RISK_MAX_AMOUNT_MINOR', '12.5'],
    ['RISK_MAX_AMOUNT_MINOR', '-5'],
    ['RISK_MAX_AMOUNT_MINOR', ''],
    ['RISK_VELOCITY_AMOUNT_MINOR_PER_MINUTE', '1e6'],
    ['RISK_VELOCITY_COUNT_PER_MINUTE', '0'],
    ['RISK_VELOCITY_COUNT_PER_MINUTE', 'five'],
    ['RISK_VERIFY_URL', 'ftp://risk.example'],
    ['RISK_VERIFY_URL', 'not a url'],
    ['RISK_VERIFY_TIMEOUT_MS', '0'],
    ['RISK_VERIFY_FAIL_MODE', 'sometimes'],
    ['RISK_VERIFY_BREAKER_FAILURES', '0'],
  ])('stops at boot naming %s when it is %j', (name, value) => {
    expect(() => parseConfig(payments_config_schema, { ...valid, [name]: value })).toThrow(new RegExp(`^config: ${name} `));
  });
});

describe('payments config', () => {
  it('waits longer than a request timeout before counting a processing payment as stuck', () => {
    expect(parseConfig(payments_config_schema, valid)).toMatchObject({ NATS_REQUEST_TIMEOUT_MS: 5_000, RECONCILE_AFTER_MS: 30_000 });
    expect(parseConfig(payments_config_schema, { ...valid, NATS_REQUEST_TIMEOUT_MS: '1000', RECONCILE_AFTER_MS: '1001' })).toMatchObject({
      RECONCILE_AFTER_MS: 1_001,
    });
    expect(() => parseConfig(payments_config_schema, { ...valid, NATS_REQUEST_TIMEOUT_MS: '1000', RECONCILE_AFTER_MS: '1000' })).toThrow(
      'config: RECONCILE_AFTER_MS must be longer than NATS_REQUEST_TIMEOUT_MS',
    );
  });
});
