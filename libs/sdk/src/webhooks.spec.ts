import { generateWebhookSecret, signWebhook } from '@paynet/signatures';
import { WebhookVerificationError } from './errors.js';
import { verifyWebhook } from './webhooks.js';

const secret = generateWebhookSecret();
const event = {
  id: 'evt_123',
  object: 'event',
  type: 'payment_intent.succeeded',
  created: 1_732_300_000,
  merchant: 'mer_1',
  account: null,
  data: { object: { id: 'pi_1' } },
};
const body = JSON.stringify(event);
const now = Math.floor(Date.now() / 1000);
const signature = signWebhook({ secret, msg_id: event.id, timestamp: now, payload: body });
const headers = { 'webhook-id': event.id, 'webhook-timestamp': String(now), 'webhook-signature': signature };

describe('verifying webhooks', () => {
  it('returns the event of a genuine delivery, from a plain object or fetch Headers', () => {
    expect(verifyWebhook(secret, headers, body)).toEqual(event);
    expect(verifyWebhook(secret, new Headers(headers), Buffer.from(body))).toEqual(event);
  });

  it('throws on a tampered body, a wrong secret, a missing header or an old timestamp', () => {
    const attempts: [() => unknown, string][] = [
      [() => verifyWebhook(secret, headers, body.replace('pi_1', 'pi_2')), 'invalid_signature'],
      [() => verifyWebhook(generateWebhookSecret(), headers, body), 'invalid_signature'],
      [() => verifyWebhook(secret, { ...headers, 'webhook-signature': undefined }, body), 'headers_missing'],
      [() => verifyWebhook(secret, headers, body, { nowSeconds: now + 301 }), 'timestamp_out_of_tolerance'],
    ];
    for (const [attempt, code] of attempts) {
      expect(attempt).toThrow(WebhookVerificationError);
      expect(attempt).toThrow(code);
    }
    expect(verifyWebhook(secret, headers, body, { nowSeconds: now + 300 })).toEqual(event);
  });

  it('throws on a signed body that is not JSON', () => {
    const text = 'not json';
    const signed = { ...headers, 'webhook-signature': signWebhook({ secret, msg_id: event.id, timestamp: now, payload: text }) };
    expect(() => verifyWebhook(secret, signed, text)).toThrow(/not JSON/);
  });
});
