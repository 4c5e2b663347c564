import type { PlatformEvent } from '@paynet/contracts';
import { type WebhookHeaders, verifyWebhook as verifyWebhookSignature } from '@paynet/signatures';
import { WebhookVerificationError } from './errors.js';

export interface VerifyWebhookOptions {
  /** The clock to judge webhook-timestamp by; now by default. */
  nowSeconds?: number;
  /** 300 s by default, as the Standard Webhooks spec recommends. */
  toleranceSeconds?: number;
}

function headerRecord(headers: Headers | WebhookHeaders): WebhookHeaders {
  if (typeof (headers as Headers).get !== 'function') return headers as WebhookHeaders;
  const record: Record<string, string> = {};
  (headers as Headers).forEach((value, name) => (record[name] = value));
  return record;
}

/**
 * Checks a webhook delivery with the merchant's `whsec_` secret, over the raw
 * body exactly as received (parse it only afterwards), and returns the event.
 */
export function verifyWebhook(
  webhookSecret: string,
  headers: Headers | WebhookHeaders,
  rawBody: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): PlatformEvent {
  const result = verifyWebhookSignature({
    secret: webhookSecret,
    headers: headerRecord(headers),
    payload: rawBody,
    now_seconds: options.nowSeconds ?? Math.floor(Date.now() / 1000),
    tolerance_seconds: options.toleranceSeconds,
  });
  if (!result.ok) throw new WebhookVerificationError(result.code, `webhook refused: ${result.code}`);
  const text = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  try {
    return JSON.parse(text) as PlatformEvent;
  } catch {
    throw new WebhookVerificationError('invalid_json', 'webhook body is not JSON');
  }
}
