import { parseConfig } from '@paynet/platform';
import { push_config_schema } from './config.js';

const valid = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/paynet',
  NATS_URL: 'nats://127.0.0.1:4222',
  ADMIN_TOKEN: 'a'.repeat(32),
  SECRETS_KEY: Buffer.alloc(32).toString('base64'),
};

describe('push retention and resume settings, validated at boot', () => {
  it('keeps events 30 days and replays at most 1000 events unless set', () => {
    expect(parseConfig(push_config_schema, valid)).toMatchObject({ EVENT_RETENTION_DAYS: 30, STREAM_REPLAY_EVENTS_MAX: 1_000 });
    expect(parseConfig(push_config_schema, { ...valid, EVENT_RETENTION_DAYS: '1' }).EVENT_RETENTION_DAYS).toBe(1);
  });

  it.each([
    ['EVENT_RETENTION_DAYS', '0'],
    ['EVENT_RETENTION_DAYS', '1.5'],
    ['EVENT_RETENTION_DAYS', 'forever'],
    ['EVENT_RETENTION_DAYS', '100000'],
    ['EVENT_SWEEP_INTERVAL_MS', '0'],
    ['STREAM_REPLAY_EVENTS_MAX', '0'],
  ])('stops at boot naming %s when it is %j', (name, value) => {
    expect(() => parseConfig(push_config_schema, { ...valid, [name]: value })).toThrow(new RegExp(`^config: ${name} `));
  });
});
