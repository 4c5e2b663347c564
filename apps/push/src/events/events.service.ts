import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { admitting, MerchantEndpoints } from '../webhooks/merchant-endpoints.js';
import { WebhookDeliveryWorker, webhook_lease_ms } from '../webhooks/webhook-delivery.worker.js';
import { type EventDelivery, type RecordedEvents, recordEvents } from './events.repository.js';
import type { ReceivedEvent } from './received-event.js';

/**
 * Exactly-once effects from at-least-once delivery: a batch of events and
 * their webhook deliveries are written by one statement (one transaction),
 * deduped by event id, and the caller acknowledges the messages only after
 * it commits. The deliveries the worker has slots for are made claimed by
 * that statement and attempted right after it, with no claim of their own.
 * The statement also records the webhook attempt outcomes that are waiting
 * for their record (the worker's, carried along): one transaction for both.
 */
@Injectable()
export class EventsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly endpoints: MerchantEndpoints,
    private readonly worker: WebhookDeliveryWorker,
  ) {}

  /** Records the batch (with the waiting webhook outcomes if `carry_outcomes`); answers the ids of the events that were new. */
  async record(batch: readonly ReceivedEvent[], options: { carry_outcomes: boolean }): Promise<ReadonlySet<string>> {
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
    const targets: Omit<EventDelivery, 'claimed'>[] = [];
    for (const { event } of events) {
      if (event.merchant === null) continue;
      for (const endpoint of admitting(endpoints.get(event.merchant) ?? [], event.type)) {
        targets.push({ event_id: event.id, merchant_id: event.merchant, endpoint_id: endpoint.id, url: endpoint.url });
      }
    }
    // Held from here to the commit: what has no slot is made due now, for the worker's next claim.
    const slots = this.worker.reserve(targets.map((target) => target.merchant_id));
    const deliveries = targets.map((target, index) => ({ ...target, claimed: slots.taken[index] === true }));
    // Taken last, right before the statement: every outcome that finished meanwhile rides along.
    const outcomes = options.carry_outcomes ? this.worker.carryOutcomes() : undefined;
    let recorded: RecordedEvents;
    try {
      // A redelivered message finds its event stored: its deliveries were made by that same statement.
      const claim = { claim_id: slots.claim_id, lease_ms: webhook_lease_ms };
      recorded = await recordEvents(this.dataSource.manager, events, deliveries, claim, outcomes);
    } catch (error) {
      slots.settle([]);
      // Not lost: the worker records them in a statement of its own.
      outcomes?.giveBack();
      throw error;
    }
    slots.settle(recorded.claimed);
    outcomes?.settle(recorded.attempts);
    if (recorded.unclaimed > 0) this.worker.wake();
    return recorded.inserted;
  }
}
