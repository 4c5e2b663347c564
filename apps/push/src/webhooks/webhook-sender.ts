import { Inject, Injectable } from '@nestjs/common';
import { CONFIG } from '@paynet/platform';
import type { PushConfig } from '../config.js';
import { refusedDestination } from './private-address.js';
import type { AttemptResult } from './retry-schedule.js';

/** API.md: a 2xx within 15 s is success. */
export const webhook_timeout_ms = 15_000;

export interface SignedWebhook {
  url: string;
  /** The event id: receivers dedupe by it. */
  msg_id: string;
  timestamp: number;
  signature: string;
  /** The exact bytes that were signed. */
  payload: string;
}

/** One HTTP attempt of one webhook; never throws, every failure is an AttemptResult. */
@Injectable()
export class WebhookSender {
  constructor(@Inject(CONFIG) private readonly config: PushConfig) {}

  async send(webhook: SignedWebhook): Promise<AttemptResult> {
    let url: URL;
    try {
      url = new URL(webhook.url);
    } catch {
      return { kind: 'no_response', reason: 'invalid URL' };
    }
    if (!this.config.webhook_allow_private) {
      const refused = await refusedDestination(url).catch((error: unknown) => `lookup failed: ${describe(error)}`);
      if (refused !== null) return { kind: 'no_response', reason: refused };
    }
    return post(url, webhook);
  }
}

async function post(url: URL, webhook: SignedWebhook): Promise<AttemptResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': webhook.msg_id,
        'webhook-timestamp': String(webhook.timestamp),
        'webhook-signature': webhook.signature,
        'user-agent': 'paynet-webhooks/1',
      },
      body: webhook.payload,
      // A redirect is an answer that is not 2xx: following it could reach an address we never checked.
      redirect: 'manual',
      signal: AbortSignal.timeout(webhook_timeout_ms),
    });
    // The body is never read: it could be large or slow, and the status says all we need.
    await response.body?.cancel().catch(() => undefined);
    return { kind: 'response', status_code: response.status };
  } catch (error) {
    const timed_out = (error as { name?: string } | null)?.name === 'TimeoutError';
    return { kind: 'no_response', reason: timed_out ? `no answer within ${webhook_timeout_ms} ms` : describe(error) };
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const text = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return text.slice(0, 200);
}
