import { createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqualBytes, secret_bytes } from './secrets.js';

/** Standard Webhooks: secrets are `whsec_` + base64 of 24 to 64 random bytes. */
export const webhook_secret_prefix = 'whsec_';
export const webhook_secret_bytes_min = 24;
export const webhook_secret_bytes_max = 64;
/** Standard Webhooks' recommended tolerance, as for requests. */
export const webhook_tolerance_seconds = 300;
/** Bounds on the signature header: several signatures during secret rotation, not more. */
export const webhook_signature_header_length_max = 1_024;
export const webhook_signature_values_max = 8;

const timestamp_pattern = /^(0|[1-9][0-9]{0,11})$/;
const base64_digest_pattern = /^[A-Za-z0-9+/]{43}=$/;

export type WebhookPayload = Buffer | Uint8Array | string;

export function generateWebhookSecret(): string {
  return `${webhook_secret_prefix}${randomBytes(secret_bytes).toString('base64')}`;
}

/** The HMAC key inside a `whsec_` secret; a malformed secret is a configuration bug and throws. */
export function webhookSecretKey(secret: string): Buffer {
  if (!secret.startsWith(webhook_secret_prefix)) throw new Error(`webhook secret must start with ${webhook_secret_prefix}`);
  const key = Buffer.from(secret.slice(webhook_secret_prefix.length), 'base64');
  if (key.length < webhook_secret_bytes_min || key.length > webhook_secret_bytes_max) {
    throw new Error(`webhook secret must hold ${webhook_secret_bytes_min} to ${webhook_secret_bytes_max} bytes`);
  }
  return key;
}

function webhookDigest(key: Buffer, msg_id: string, timestamp: string, payload: WebhookPayload): Buffer {
  const payload_bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return createHmac('sha256', key).update(`${msg_id}.${timestamp}.`, 'utf8').update(payload_bytes).digest();
}

export interface SignWebhookParams {
  secret: string;
  msg_id: string;
  /** Unix seconds, the value of the webhook-timestamp header. */
  timestamp: number;
  payload: WebhookPayload;
}

/** The webhook-signature header value: `v1,<base64 HMAC-SHA256(key, msg_id.timestamp.payload)>`. */
export function signWebhook(params: SignWebhookParams): string {
  if (!Number.isSafeInteger(params.timestamp) || params.timestamp < 0) throw new Error(`webhook timestamp ${params.timestamp}`);
  const digest = webhookDigest(webhookSecretKey(params.secret), params.msg_id, String(params.timestamp), params.payload);
  return `v1,${digest.toString('base64')}`;
}

export type WebhookHeaders = Readonly<Record<string, string | string[] | undefined>>;

export type WebhookVerificationCode = 'headers_missing' | 'timestamp_invalid' | 'timestamp_out_of_tolerance' | 'invalid_signature';

export type WebhookVerification = { ok: true } | { ok: false; code: WebhookVerificationCode };

export interface VerifyWebhookParams {
  secret: string;
  headers: WebhookHeaders;
  payload: WebhookPayload;
  now_seconds: number;
  tolerance_seconds?: number;
}

/** A header by name, whatever its case; a repeated header is not accepted. */
function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return typeof value === 'string' && value.length > 0 ? value : undefined;
  }
  return undefined;
}

function signatureValues(header: string): Buffer[] {
  const values: Buffer[] = [];
  for (const part of header.split(' ').slice(0, webhook_signature_values_max)) {
    const [version, signature] = part.split(',');
    if (version === 'v1' && signature !== undefined && base64_digest_pattern.test(signature)) values.push(Buffer.from(signature, 'base64'));
  }
  return values;
}

/** Checks a Standard Webhooks delivery: headers present, timestamp within tolerance, one v1 signature matching. */
export function verifyWebhook(params: VerifyWebhookParams): WebhookVerification {
  const key = webhookSecretKey(params.secret);
  const msg_id = headerValue(params.headers, 'webhook-id');
  const timestamp = headerValue(params.headers, 'webhook-timestamp');
  const signature = headerValue(params.headers, 'webhook-signature');
  if (msg_id === undefined || timestamp === undefined || signature === undefined) return { ok: false, code: 'headers_missing' };
  if (!timestamp_pattern.test(timestamp)) return { ok: false, code: 'timestamp_invalid' };
  const tolerance_seconds = params.tolerance_seconds ?? webhook_tolerance_seconds;
  if (Math.abs(params.now_seconds - Number(timestamp)) > tolerance_seconds) return { ok: false, code: 'timestamp_out_of_tolerance' };
  if (signature.length > webhook_signature_header_length_max) return { ok: false, code: 'invalid_signature' };
  const expected = webhookDigest(key, msg_id, timestamp, params.payload);
  const matched = signatureValues(signature).some((value) => constantTimeEqualBytes(value, expected));
  return matched ? { ok: true } : { ok: false, code: 'invalid_signature' };
}
