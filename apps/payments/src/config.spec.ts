import { parseConfig } from '@paynet/platform';
import { payments_config_schema } from './config.js';

const valid = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/paynet',
  NATS_URL: 'nats://127.0.0.1:4222',
  ADMIN_TOKEN: 'a'.repeat(32),
  SECRETS_KEY: Buffer.alloc(32).toString('base64'),
};

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
