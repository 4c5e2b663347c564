import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { admitting, MerchantEndpoints } from '../webhooks/merchant-endpoints.js';
import { WebhookDeliveryWorker } from '../webhooks/webhook-delivery.worker.js';
import { type EventDelivery, recordEvents } from './events.repository.js';
import type { ReceivedEvent } from './received-event.js';

/**
 * Exactly-once effects from at-least-once delivery: a batch of events and
 * their webhook deliveries are written by one statement (one transaction),
 * deduped by event id, and the caller acknowledges the messages only after
 * it commits.
 */
@Injectable()
export class EventsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly endpoints: MerchantEndpoints,
    private readonly worker: WebhookDeliveryWorker,
  ) {}

  /** Records the batch; answers the ids of the events that were new. */
  async record(batch: readonly ReceivedEvent[]): Promise<ReadonlySet<string>> {
    // The same event twice in a batch (published twice): keep its first sequence, as a second record would.
    const first = new Map<string, ReceivedEvent>();
    for (const received of batch) {
      const seen = first.get(received.event.id);
      if (seen === undefined || received.stream_seq < seen.stream_seq) first.set(received.event.id, received);
    }
    const events = [...first.values()];
    // Asked before the statement, in one request for the merchants not cached: no connection is held while merchants answers.
    const merchants = events.flatMap((received) => (received.event.merchant === null ? [] : [received.event.merchant]));
    const endpoints = merchants.length === 0 ? new Map() : await this.endpoints.ofMerchants(merchants);
    const deliveries: EventDelivery[] = [];
    for (const { event } of events) {
      if (event.merchant === null) continue;
      for (const endpoint of admitting(endpoints.get(event.merchant) ?? [], event.type)) {
        deliveries.push({ event_id: event.id, merchant_id: event.merchant, endpoint_id: endpoint.id, url: endpoint.url });
      }
    }
    // A redelivered message finds its event stored: its deliveries were made by that same statement.
    const recorded = await recordEvents(this.dataSource.manager, events, deliveries);
    if (recorded.deliveries > 0) this.worker.wake();
    return recorded.inserted;
  }
}
