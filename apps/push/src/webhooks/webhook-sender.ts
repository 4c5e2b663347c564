import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { CONFIG, WebhookClient } from '@paynet/platform';
import type { PushConfig } from '../config.js';
import { type AttemptResult, parseRetryAfter } from './retry-schedule.js';

/** API.md: a 2xx within 15 s is success. */
export const webhook_timeout_ms = 15_000;

export interface SignedWebhook {
  url: string;
  /** The event id: receivers dedupe by it. */
  msg_id: string;
  timestamp: number;
  /** One `v1,<sig>` per valid secret of the endpoint, separated by spaces. */
  signature: string;
  /** The exact bytes that were signed. */
  payload: string;
}

/**
 * One HTTP attempt of one webhook through the platform's guard (checked
 * address pinned at connect, no redirects); never throws, every failure is
 * an AttemptResult.
 */
@Injectable()
export class WebhookSender implements OnModuleDestroy {
  private readonly client: WebhookClient;

  constructor(@Inject(CONFIG) config: PushConfig) {
    this.client = new WebhookClient({ allow_private: config.webhook_allow_private });
  }

  async send(webhook: SignedWebhook): Promise<AttemptResult> {
    const result = await this.client.post({
      url: webhook.url,
      headers: {
        'content-type': 'application/json',
        'webhook-id': webhook.msg_id,
        'webhook-timestamp': String(webhook.timestamp),
        'webhook-signature': webhook.signature,
        'user-agent': 'paynet-webhooks/1',
      },
      body: webhook.payload,
      timeout_ms: webhook_timeout_ms,
    });
    if (result.kind === 'no_response') return result;
    return { kind: 'response', status_code: result.status_code, retry_after_ms: parseRetryAfter(result.retry_after, Date.now()) };
  }

  onModuleDestroy(): Promise<void> {
    return this.client.close();
  }
}
