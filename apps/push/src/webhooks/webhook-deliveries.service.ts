import { Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, type ListResponse, type MerchantPrincipal, type WebhookDeliveryObject } from '@paynet/contracts';
import { type IdempotencyClaim, withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import { findEvent } from '../events/events.repository.js';
import { type DeliveryRow, deliverySeq, insertDelivery, listDeliveries } from './webhook-deliveries.repository.js';
import { WebhookDeliveryWorker } from './webhook-delivery.worker.js';
import type { ListDeliveriesQuery } from './webhooks.dto.js';

@Injectable()
export class WebhookDeliveriesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly worker: WebhookDeliveryWorker,
  ) {}

  /** The merchant's own deliveries, newest first; another merchant's event simply has none. */
  async list(merchant: MerchantPrincipal, query: ListDeliveriesQuery): Promise<ListResponse<WebhookDeliveryObject>> {
    const manager = this.dataSource.manager;
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

  /** A new delivery of one of the merchant's events to its current endpoint. */
  async redeliver(merchant: MerchantPrincipal, event_id: string, claim: IdempotencyClaim | undefined): Promise<WebhookDeliveryObject> {
    const event = await findEvent(this.dataSource.manager, event_id);
    if (!event || event.merchant_id !== merchant.merchant_id) throw ApiError.notFound('event', event_id);
    const url = merchant.webhook_url;
    if (url === null) {
      throw ApiError.badRequest(ErrorCode.parameter_invalid, 'This merchant has no webhook endpoint; set one with POST /v1/merchants/{id}/webhook-endpoint.');
    }
    const body = await withTransaction(this.dataSource, async (manager) => {
      const row = await insertDelivery(manager, { event_id, merchant_id: merchant.merchant_id, url, origin: 'redeliver' });
      if (row === null) throw new Error('a redelivery is never a duplicate');
      const delivery = mapDelivery(row);
      await claim?.complete(manager, 202, delivery);
      return delivery;
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
