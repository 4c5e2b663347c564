import { Injectable } from '@nestjs/common';
import { ApiError, type GetMerchantReply, Subjects } from '@paynet/contracts';
import { RpcClient, withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import { insertDelivery } from '../webhooks/webhook-deliveries.repository.js';
import { WebhookDeliveryWorker } from '../webhooks/webhook-delivery.worker.js';
import { insertEvent } from './events.repository.js';
import type { ReceivedEvent } from './received-event.js';

export type RecordResult = 'recorded' | 'duplicate';

/**
 * Exactly-once effects from at-least-once delivery: the event and its
 * webhook delivery are written in one transaction, deduped by event id, and
 * the caller acknowledges the message only after it commits.
 */
@Injectable()
export class EventsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly worker: WebhookDeliveryWorker,
  ) {}

  async record(received: ReceivedEvent): Promise<RecordResult> {
    // Asked before the transaction: no connection is held while merchants answers.
    const webhook_url = received.event.merchant === null ? null : await this.webhookUrlOf(received.event.merchant);
    const { inserted, delivery } = await withTransaction(this.dataSource, async (manager) => {
      const inserted = await insertEvent(manager, received);
      // A redelivered message finds its event stored: the delivery was decided in that same transaction.
      const delivery =
        inserted && webhook_url !== null && received.event.merchant !== null
          ? await insertDelivery(manager, { event_id: received.event.id, merchant_id: received.event.merchant, url: webhook_url, origin: 'event' })
          : null;
      return { inserted, delivery };
    });
    if (delivery !== null) this.worker.wake();
    return inserted ? 'recorded' : 'duplicate';
  }

  /** The merchant's endpoint now; a merchant unknown to merchants has none. Other errors propagate (retry later). */
  private async webhookUrlOf(merchant_id: string): Promise<string | null> {
    try {
      const merchant = await this.rpc.request<GetMerchantReply>(Subjects.merchants.merchantsGet, { merchant_id });
      return merchant.webhook_url;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }
}
