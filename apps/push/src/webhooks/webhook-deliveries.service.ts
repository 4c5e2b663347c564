import { Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, type ListResponse, type MerchantPrincipal, type WebhookDeliveryObject } from '@paynet/contracts';
import { type IdempotencyClaim, withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import { findEvent } from '../events/events.repository.js';
import { MerchantEndpoints } from './merchant-endpoints.js';
import { type DeliveryRow, deliverySeq, listDeliveries, takeRedeliveryBudget } from './webhook-deliveries.repository.js';
import { WebhookDeliveryWorker } from './webhook-delivery.worker.js';
import type { ListDeliveriesQuery } from './webhooks.dto.js';

/** API.md: at most 10 redeliveries a second per merchant. */
export const redeliveries_per_window_max = 10;
export const redelivery_window_ms = 1_000;

@Injectable()
export class WebhookDeliveriesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly worker: WebhookDeliveryWorker,
    private readonly endpoints: MerchantEndpoints,
  ) {}

  /** The merchant's own deliveries, newest first; another merchant's event simply has none. */
  async list(merchant: MerchantPrincipal, query: ListDeliveriesQuery): Promise<ListResponse<WebhookDeliveryObject>> {
    const manager = this.dataSource.manager;
    await this.endpoints.failDeliveriesOfEndpointsOff(manager, merchant.merchant_id);
    let before_seq: string | undefined;
    if (query.starting_after !== undefined) {
      before_seq = await deliverySeq(manager, merchant.merchant_id, query.starting_after);
      if (before_seq === undefined) {
        throw ApiError.badRequest(ErrorCode.parameter_invalid, `No such webhook delivery: '${query.starting_after}'`, 'starting_after');
      }
    }
    const rows = await listDeliveries(manager, { merchant_id: merchant.merchant_id, event_id: query.event, before_seq, limit: query.limit + 1 });
    return { object: 'list', data: rows.slice(0, query.limit).map(mapDelivery), has_more: rows.length > query.limit };
  }

  /** A new delivery of one of the merchant's events to each enabled endpoint that admits it, within the merchant's budget. */
  async redeliver(merchant: MerchantPrincipal, event_id: string, claim: IdempotencyClaim | undefined): Promise<ListResponse<WebhookDeliveryObject>> {
    const event = await findEvent(this.dataSource.manager, event_id);
    if (!event || event.merchant_id !== merchant.merchant_id) throw ApiError.notFound('event', event_id);
    const endpoints = await this.endpoints.forEvent(merchant.merchant_id, event.type);
    if (endpoints.length === 0) {
      throw ApiError.badRequest(ErrorCode.parameter_invalid, 'No enabled webhook endpoint of this merchant admits this event; add one with POST /v1/webhook-endpoints.');
    }
    const body = await withTransaction(this.dataSource, async (manager) => {
      // Spent budget throws, and the transaction takes nothing.
      const wait_ms = await takeRedeliveryBudget(manager, merchant.merchant_id, redeliveries_per_window_max, redelivery_window_ms);
      if (wait_ms !== null) {
        throw ApiError.rateLimited(`At most ${redeliveries_per_window_max} redeliveries a second; try again shortly.`, Math.ceil(wait_ms / 1_000));
      }
      const rows = await this.endpoints.insertDeliveries(manager, { id: event_id, merchant_id: merchant.merchant_id }, endpoints, 'redeliver');
      // Swept since it was read: a delivery is never made without its event.
      if (rows.length === 0) throw ApiError.notFound('event', event_id);
      const answer: ListResponse<WebhookDeliveryObject> = { object: 'list', data: rows.map(mapDelivery), has_more: false };
      await claim?.complete(manager, 202, answer);
      return answer;
    });
    this.worker.wake();
    return body;
  }
}

/** The wire shape of a delivery, in one place. */
export function mapDelivery(row: DeliveryRow): WebhookDeliveryObject {
  return {
    id: row.id,
    event: row.event_id,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    last_status_code: row.last_status_code,
    next_attempt_at: row.status === 'pending' && row.next_attempt_at !== null ? Number(row.next_attempt_at) : null,
  };
}
