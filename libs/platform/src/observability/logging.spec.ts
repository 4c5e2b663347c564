import { redactUrl } from './logging.js';

describe('log redaction', () => {
  it('keeps tokens in query strings out of log lines', () => {
    expect(redactUrl('/v1/stream?token=st_secret&x=1')).toBe('/v1/stream?token=[redacted]&x=1');
    expect(redactUrl('/dashboard?a=1&token=at_secret')).toBe('/dashboard?a=1&token=[redacted]');
    expect(redactUrl('/v1/payment-intents?limit=5')).toBe('/v1/payment-intents?limit=5');
  });
});
