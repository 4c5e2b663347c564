import { createHmac } from 'node:crypto';
import { constantTimeEqualBytes } from './secrets.js';

/** API.md: a request more than 300 s from the server's clock is refused. */
export const request_tolerance_seconds = 300;
/** Bounds on what a client may put in the signature header before we look at it. */
export const signature_header_length_max = 1_024;
export const signature_values_max = 8;
/** Unix seconds as plain decimal digits, no sign, no exponent, no leading zero. */
const timestamp_pattern = /^(0|[1-9][0-9]{0,11})$/;
const nonce_pattern = /^[A-Za-z0-9_-]{16,64}$/;
const hex_signature_pattern = /^[0-9a-fA-F]{64}$/;

export type RequestBody = Buffer | Uint8Array | string;

export interface RequestParts {
  /** The X-Timestamp value exactly as sent. */
  timestamp: string;
  /** The X-Nonce value exactly as sent. */
  nonce: string;
  method: string;
  /** Path and query exactly as sent, e.g. `/v1/payment-intents?limit=5`. */
  path_with_query: string;
  /** The raw body bytes; empty (or omitted) for GET. */
  body?: RequestBody;
}

export type RequestVerificationCode = 'authentication_required' | 'timestamp_out_of_tolerance' | 'invalid_signature';

export type RequestVerification = { ok: true } | { ok: false; code: RequestVerificationCode; reason: string };

export function isValidNonce(nonce: unknown): nonce is string {
  return typeof nonce === 'string' && nonce_pattern.test(nonce);
}

export function isValidTimestamp(timestamp: unknown): timestamp is string {
  return typeof timestamp === 'string' && timestamp_pattern.test(timestamp);
}

function bodyBytes(body: RequestBody | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** `T \n NONCE \n METHOD \n PATH_WITH_QUERY \n RAW_BODY`, as bytes: the body is never re-encoded. */
export function canonicalRequest(parts: RequestParts): Buffer {
  const head = `${parts.timestamp}\n${parts.nonce}\n${parts.method.toUpperCase()}\n${parts.path_with_query}\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), bodyBytes(parts.body)]);
}

function requestDigest(secret: string, parts: RequestParts): Buffer {
  if (secret.length === 0) throw new Error('request signing secret is empty');
  return createHmac('sha256', secret).update(canonicalRequest(parts)).digest();
}

/** The X-Signature header value: `v1=<hex HMAC-SHA256(secret, canonical request)>`. */
export function signRequest(params: RequestParts & { secret: string }): string {
  return `v1=${requestDigest(params.secret, params).toString('hex')}`;
}

/** The `v1=` values of a header, bounded; other schemes are ignored. */
export function parseSignatureHeader(header: string): string[] {
  const values: string[] = [];
  for (const part of header.split(',').slice(0, signature_values_max)) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    if (part.slice(0, separator).trim() === 'v1') values.push(part.slice(separator + 1).trim());
  }
  return values;
}

export interface VerifyRequestParams {
  secret: string;
  timestamp: string | undefined;
  nonce: string | undefined;
  method: string;
  path_with_query: string;
  body?: RequestBody;
  signature_header: string | undefined;
  now_seconds: number;
  tolerance_seconds?: number;
}

/**
 * Checks a merchant's signed request (API.md, Authentication). Replay of a
 * nonce is the caller's to check, after this succeeds: it needs shared state.
 */
export function verifyRequest(params: VerifyRequestParams): RequestVerification {
  const { timestamp, nonce, signature_header } = params;
  const tolerance_seconds = params.tolerance_seconds ?? request_tolerance_seconds;
  if (!timestamp || !nonce || !signature_header) {
    return { ok: false, code: 'authentication_required', reason: 'X-Timestamp, X-Nonce and X-Signature are required' };
  }
  if (!isValidTimestamp(timestamp)) return { ok: false, code: 'authentication_required', reason: 'X-Timestamp must be Unix seconds' };
  if (!isValidNonce(nonce)) return { ok: false, code: 'authentication_required', reason: 'X-Nonce must be 16 to 64 of [A-Za-z0-9_-]' };
  if (Math.abs(params.now_seconds - Number(timestamp)) > tolerance_seconds) {
    return { ok: false, code: 'timestamp_out_of_tolerance', reason: `X-Timestamp is more than ${tolerance_seconds} s from now` };
  }
  if (signature_header.length > signature_header_length_max) {
    return { ok: false, code: 'invalid_signature', reason: 'X-Signature is too long' };
  }
  const expected = requestDigest(params.secret, { ...params, timestamp, nonce });
  const matched = parseSignatureHeader(signature_header).some(
    (value) => hex_signature_pattern.test(value) && constantTimeEqualBytes(Buffer.from(value, 'hex'), expected),
  );
  return matched ? { ok: true } : { ok: false, code: 'invalid_signature', reason: 'no v1 signature matches' };
}
