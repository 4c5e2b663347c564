import { Injectable } from '@nestjs/common';
import { withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import { MerchantEndpoints } from '../webhooks/merchant-endpoints.js';
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
    private readonly endpoints: MerchantEndpoints,
    private readonly worker: WebhookDeliveryWorker,
  ) {}

  async record(received: ReceivedEvent): Promise<RecordResult> {
    // Asked before the transaction: no connection is held while merchants answers.
    const merchant_id = received.event.merchant;
    const endpoints = merchant_id === null ? [] : await this.endpoints.forEvent(merchant_id, received.event.type);
    const { inserted, deliveries } = await withTransaction(this.dataSource, async (manager) => {
      const inserted = await insertEvent(manager, received);
      // A redelivered message finds its event stored: the deliveries were decided in that same transaction.
      const deliveries =
        inserted && merchant_id !== null ? await this.endpoints.insertDeliveries(manager, { id: received.event.id, merchant_id }, endpoints, 'event') : [];
      return { inserted, deliveries };
    });
    if (deliveries.length > 0) this.worker.wake();
    return inserted ? 'recorded' : 'duplicate';
  }
}
