import fc from 'fast-check';
import { createHmac, randomUUID } from 'node:crypto';
import {
  type VerifyRequestParams,
  canonicalRequest,
  isValidNonce,
  isValidTimestamp,
  signRequest,
  signature_values_max,
  verifyRequest,
} from './request-signing.js';

const secret = 'sk_test_secret';
const now_seconds = 1_732_300_000;
const parts = {
  timestamp: String(now_seconds),
  nonce: 'nonce_0123456789abcdef',
  method: 'POST',
  path_with_query: '/v1/payment-intents?limit=5',
  body: '{"amount":1000,"currency":"USD"}',
};
/** Computed with `openssl dgst -sha256 -hmac sk_test_secret` over the canonical text. */
const openssl_vector = 'v1=60a4a090fb9d17a22d884985c519a86e17604cb2afc84bcfd8e085ac32c8d1a3';

function request(changes: Partial<VerifyRequestParams> = {}): VerifyRequestParams {
  return { secret, ...parts, signature_header: signRequest({ secret, ...parts }), now_seconds, ...changes };
}

describe('merchant request signatures', () => {
  it('joins timestamp, nonce, upper-case method, path and raw body with newlines', () => {
    const canonical = canonicalRequest({ ...parts, method: 'post' });
    expect(canonical.toString('utf8')).toBe(
      '1732300000\nnonce_0123456789abcdef\nPOST\n/v1/payment-intents?limit=5\n{"amount":1000,"currency":"USD"}',
    );
  });

  it('matches a vector computed by openssl and by a hand-written HMAC', () => {
    expect(signRequest({ secret, ...parts })).toBe(openssl_vector);
    const text = `${parts.timestamp}\n${parts.nonce}\nPOST\n${parts.path_with_query}\n${parts.body}`;
    expect(signRequest({ secret, ...parts })).toBe(`v1=${createHmac('sha256', secret).update(text).digest('hex')}`);
  });

  it('signs an empty body the same however it is given, for GET', () => {
    const get = { secret, ...parts, method: 'GET', path_with_query: '/v1/merchants/mer_1' };
    const expected = signRequest({ ...get, body: '' });
    expect(signRequest({ ...get, body: undefined })).toBe(expected);
    expect(signRequest({ ...get, body: Buffer.alloc(0) })).toBe(expected);
    expect(signRequest({ ...get, body: new Uint8Array(0) })).toBe(expected);
    expect(canonicalRequest({ ...get, body: undefined }).toString()).toMatch(/\/v1\/merchants\/mer_1\n$/);
  });

  it('signs the raw bytes of a body, even bytes that are not valid UTF-8', () => {
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x7d]);
    const signature_header = signRequest({ secret, ...parts, body });
    expect(verifyRequest(request({ body, signature_header }))).toEqual({ ok: true });
    expect(verifyRequest(request({ body: body.toString('utf8'), signature_header }))).toMatchObject({ code: 'invalid_signature' });
    // A view into a larger buffer signs only its own bytes.
    const view = new Uint8Array([0x78, 0x78, ...body, 0x78]).subarray(2, 2 + body.length);
    expect(signRequest({ secret, ...parts, body: view })).toBe(signature_header);
  });

  it('accepts a correctly signed request', () => {
    expect(verifyRequest(request())).toEqual({ ok: true });
  });

  it('refuses a request if any signed part or the secret was changed', () => {
    const changes: Partial<VerifyRequestParams>[] = [
      { timestamp: String(now_seconds + 1) },
      { nonce: 'nonce_0123456789abcdeF' },
      { method: 'PUT' },
      { path_with_query: '/v1/payment-intents?limit=6' },
      { path_with_query: '/v1/payment-intents' },
      { body: '{"amount":1001,"currency":"USD"}' },
      { body: '' },
      { secret: 'sk_test_secreT' },
    ];
    for (const change of changes) {
      expect(verifyRequest(request(change))).toMatchObject({ ok: false, code: 'invalid_signature' });
    }
  });

  it('treats the method case-insensitively, since it is upper-cased before signing', () => {
    expect(verifyRequest(request({ method: 'post' }))).toEqual({ ok: true });
  });

  it('accepts several v1 values when one matches, and ignores other schemes', () => {
    const good = signRequest({ secret, ...parts });
    const bad = signRequest({ secret: 'other', ...parts });
    expect(verifyRequest(request({ signature_header: `${bad},${good}` }))).toEqual({ ok: true });
    expect(verifyRequest(request({ signature_header: `v2=abc, ${good} ,v1=zz` }))).toEqual({ ok: true });
    expect(verifyRequest(request({ signature_header: good.replace('v1=', 'v0=') }))).toMatchObject({ code: 'invalid_signature' });
    expect(verifyRequest(request({ signature_header: `${bad},${bad}` }))).toMatchObject({ code: 'invalid_signature' });
  });

  it(`looks at no more than ${signature_values_max} values`, () => {
    const good = signRequest({ secret, ...parts });
    const padding = Array.from({ length: signature_values_max }, () => 'v0=x');
    expect(verifyRequest(request({ signature_header: [...padding.slice(1), good].join(',') }))).toEqual({ ok: true });
    expect(verifyRequest(request({ signature_header: [...padding, good].join(',') }))).toMatchObject({ code: 'invalid_signature' });
  });

  it('refuses malformed signature headers', () => {
    const good = signRequest({ secret, ...parts });
    for (const signature_header of ['garbage', 'v1', 'v1=', 'v1=zz', `v1=${good.slice(4, -1)}`, `v1=${good.slice(3)}0`, good.slice(3), `${good},${'x'.repeat(1100)}`]) {
      expect(verifyRequest(request({ signature_header }))).toMatchObject({ ok: false, code: 'invalid_signature' });
    }
  });

  it('accepts a timestamp exactly 300 s away, either way, and refuses 301 s', () => {
    for (const offset of [-300, 300]) expect(verifyRequest(request({ now_seconds: now_seconds + offset }))).toEqual({ ok: true });
    for (const offset of [-301, 301]) {
      expect(verifyRequest(request({ now_seconds: now_seconds + offset }))).toMatchObject({ code: 'timestamp_out_of_tolerance' });
    }
    expect(verifyRequest(request({ now_seconds: now_seconds + 10, tolerance_seconds: 10 }))).toEqual({ ok: true });
    expect(verifyRequest(request({ now_seconds: now_seconds + 11, tolerance_seconds: 10 }))).toMatchObject({
      code: 'timestamp_out_of_tolerance',
    });
  });

  it('asks for authentication when a header is missing or malformed', () => {
    const missing: Partial<VerifyRequestParams>[] = [
      { timestamp: undefined },
      { nonce: undefined },
      { signature_header: undefined },
      { timestamp: '' },
      { signature_header: '' },
      { timestamp: '1.7e9' },
      { timestamp: '-1732300000' },
      { timestamp: ' 1732300000' },
      { timestamp: '01732300000' },
      { timestamp: '0x67400000' },
      { nonce: 'short' },
      { nonce: 'has space in the nonce' },
    ];
    for (const change of missing) {
      expect(verifyRequest(request(change))).toMatchObject({ ok: false, code: 'authentication_required' });
    }
  });

  it('takes nonces of 16 to 64 characters of [A-Za-z0-9_-], a UUID among them', () => {
    expect(isValidNonce(randomUUID())).toBe(true);
    expect(isValidNonce('a'.repeat(15))).toBe(false);
    expect(isValidNonce('a'.repeat(16))).toBe(true);
    expect(isValidNonce('A-_z'.repeat(16))).toBe(true);
    expect(isValidNonce('a'.repeat(65))).toBe(false);
    expect(isValidNonce(`${'a'.repeat(16)}.`)).toBe(false);
    expect(isValidNonce(`${'a'.repeat(16)}\n`)).toBe(false);
    expect(isValidNonce(undefined)).toBe(false);
  });

  it('takes timestamps as plain decimal integers only', () => {
    expect(isValidTimestamp('0')).toBe(true);
    expect(isValidTimestamp('1732300000')).toBe(true);
    for (const bad of ['', '1.0', '+1', '1e3', '01', 'NaN', '1732300000 ']) expect(isValidTimestamp(bad)).toBe(false);
  });
});

describe('merchant request signatures, for any request', () => {
  const path = fc.string({ minLength: 1, maxLength: 200 }).map((rest) => `/v1/${rest}`);
  const body = fc.uint8Array({ maxLength: 2_000 });
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH');

  it('verifies whatever it signed', () => {
    fc.assert(
      fc.property(path, body, method, fc.uuid(), (path_with_query, bytes, verb, nonce) => {
        const signed = { secret, timestamp: parts.timestamp, nonce, method: verb, path_with_query, body: bytes };
        const signature_header = signRequest(signed);
        return verifyRequest({ ...signed, signature_header, now_seconds }).ok;
      }),
      { numRuns: 500 },
    );
  });

  it('refuses the request when any single byte of the body or character of the path changes', () => {
    fc.assert(
      fc.property(path, body.filter((b) => b.length > 0), fc.nat(), fc.integer({ min: 1, max: 255 }), (path_with_query, bytes, at, delta) => {
        const signed = { secret, timestamp: parts.timestamp, nonce: parts.nonce, method: 'POST', path_with_query, body: bytes };
        const signature_header = signRequest(signed);
        const tampered = Uint8Array.from(bytes);
        const index = at % tampered.length;
        tampered[index] = ((tampered[index] as number) + delta) % 256;
        const path_index = at % path_with_query.length;
        const changed_char = path_with_query[path_index] === 'a' ? 'b' : 'a';
        const tampered_path = path_with_query.slice(0, path_index) + changed_char + path_with_query.slice(path_index + 1);
        const body_result = verifyRequest({ ...signed, body: tampered, signature_header, now_seconds });
        const path_result = verifyRequest({ ...signed, path_with_query: tampered_path, signature_header, now_seconds });
        return !body_result.ok && !path_result.ok;
      }),
      { numRuns: 500 },
    );
  });
});
