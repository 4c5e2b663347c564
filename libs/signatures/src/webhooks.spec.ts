import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret, signWebhook, verifyWebhook, webhook_signature_values_max } from './webhooks.js';

/** The Standard Webhooks reference vector (also checked with openssl). */
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msg_id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1_614_265_330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

function headers(signature: string, msg_id = vector.msg_id, timestamp = vector.timestamp) {
  return { 'webhook-id': msg_id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
}

describe('Standard Webhooks signatures', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  it('matches the reference vector', () => {
    expect(signWebhook(vector)).toBe(vector.signature);
    expect(signWebhook({ ...vector, payload: Buffer.from(vector.payload) })).toBe(vector.signature);
  });

  it('signs what the standardwebhooks library accepts', () => {
    const secret = generateWebhookSecret();
    const timestamp = nowSeconds();
    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', note: 'café ✓' });
    const signature = signWebhook({ secret, msg_id: 'evt_1', timestamp, payload });
    expect(new Webhook(secret).verify(payload, headers(signature, 'evt_1', timestamp))).toEqual(JSON.parse(payload));
  });

  it('accepts what the standardwebhooks library signs', () => {
    const secret = generateWebhookSecret();
    const timestamp = nowSeconds();
    const payload = '{"id":"evt_2","amount":1234}';
    const signature = new Webhook(secret).sign('evt_2', new Date(timestamp * 1000), payload);
    expect(verifyWebhook({ secret, headers: headers(signature, 'evt_2', timestamp), payload, now_seconds: timestamp })).toEqual({ ok: true });
  });

  it('accepts any of several space-separated signatures, ignoring other versions', () => {
    const now_seconds = vector.timestamp;
    const other = signWebhook({ ...vector, secret: generateWebhookSecret() });
    const accepted = [`${other} ${vector.signature}`, `v1a,${vector.signature.slice(3)} ${vector.signature}`, `v2,abc ${vector.signature}`];
    for (const signature of accepted) {
      expect(verifyWebhook({ ...vector, headers: headers(signature), now_seconds })).toEqual({ ok: true });
    }
    const refused = [other, `${other} ${other}`, vector.signature.replace('v1,', 'v2,'), vector.signature.replace('v1,', 'v1=')];
    for (const signature of refused) {
      expect(verifyWebhook({ ...vector, headers: headers(signature), now_seconds })).toEqual({ ok: false, code: 'invalid_signature' });
    }
    const padding = Array.from({ length: webhook_signature_values_max }, () => other);
    expect(verifyWebhook({ ...vector, headers: headers([...padding, vector.signature].join(' ')), now_seconds })).toEqual({
      ok: false,
      code: 'invalid_signature',
    });
  });

  it('accepts a timestamp exactly 300 s away, and refuses 301 s', () => {
    for (const offset of [-300, 300]) {
      expect(verifyWebhook({ ...vector, headers: headers(vector.signature), now_seconds: vector.timestamp + offset })).toEqual({ ok: true });
    }
    for (const offset of [-301, 301]) {
      expect(verifyWebhook({ ...vector, headers: headers(vector.signature), now_seconds: vector.timestamp + offset })).toEqual({
        ok: false,
        code: 'timestamp_out_of_tolerance',
      });
    }
  });

  it('refuses a changed payload, id or timestamp', () => {
    const now_seconds = vector.timestamp;
    const cases = [
      { ...vector, payload: '{"test": 2432232315}', headers: headers(vector.signature) },
      { ...vector, headers: headers(vector.signature, 'msg_other') },
      { ...vector, headers: headers(vector.signature, vector.msg_id, vector.timestamp + 1) },
    ];
    for (const params of cases) expect(verifyWebhook({ ...params, now_seconds })).toEqual({ ok: false, code: 'invalid_signature' });
  });

  it('reads headers whatever their case, and refuses missing or malformed ones', () => {
    const now_seconds = vector.timestamp;
    const upper = { 'Webhook-Id': vector.msg_id, 'Webhook-Timestamp': String(vector.timestamp), 'Webhook-Signature': vector.signature };
    expect(verifyWebhook({ ...vector, headers: upper, now_seconds })).toEqual({ ok: true });
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const partial: Record<string, string | undefined> = { ...headers(vector.signature), [name]: undefined };
      expect(verifyWebhook({ ...vector, headers: partial, now_seconds })).toEqual({ ok: false, code: 'headers_missing' });
    }
    for (const timestamp of ['1614265330.0', 'abc', '-1614265330', '1e9']) {
      const bad = { ...headers(vector.signature), 'webhook-timestamp': timestamp };
      expect(verifyWebhook({ ...vector, headers: bad, now_seconds })).toEqual({ ok: false, code: 'timestamp_invalid' });
    }
    for (const signature of ['', 'v1', 'v1,', 'v1,!!!', 'garbage', `${vector.signature} ${'x'.repeat(1100)}`]) {
      expect(verifyWebhook({ ...vector, headers: headers(signature), now_seconds })).toMatchObject({ ok: false });
    }
  });

  it('treats a malformed secret as a configuration bug', () => {
    expect(() => signWebhook({ ...vector, secret: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })).toThrow(/whsec_/);
    expect(() => signWebhook({ ...vector, secret: 'whsec_' })).toThrow(/bytes/);
    expect(() => signWebhook({ ...vector, timestamp: 1.5 })).toThrow(/timestamp/);
  });

  it('verifies any payload it signed and refuses any single changed byte', () => {
    const secret = generateWebhookSecret();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2_000 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (payload, at, delta) => {
        const signature = signWebhook({ secret, msg_id: 'evt_x', timestamp: vector.timestamp, payload });
        const params = { secret, headers: headers(signature, 'evt_x'), now_seconds: vector.timestamp };
        const tampered = Uint8Array.from(payload);
        tampered[at % tampered.length] = ((tampered[at % tampered.length] as number) + delta) % 256;
        return verifyWebhook({ ...params, payload }).ok && !verifyWebhook({ ...params, payload: tampered }).ok;
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the standardwebhooks library on any UTF-8 payload', () => {
    const secret = generateWebhookSecret();
    const reference = new Webhook(secret);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.stringMatching(/^[A-Za-z0-9_]{1,40}$/), (payload, msg_id) => {
        const timestamp = vector.timestamp;
        return signWebhook({ secret, msg_id, timestamp, payload }) === reference.sign(msg_id, new Date(timestamp * 1000), payload);
      }),
      { numRuns: 500 },
    );
  });
});
