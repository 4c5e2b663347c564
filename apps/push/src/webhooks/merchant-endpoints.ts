import { Injectable, Logger } from '@nestjs/common';
import {
  ApiError,
  type DisableWebhookEndpointReply,
  Subjects,
  type WebhookEndpointStatesReply,
  type WebhookEndpointsForEventReply,
} from '@paynet/contracts';
import { RpcClient } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
import { failPendingOfEndpoints, insertDelivery, pendingEndpointsOf, type DeliveryOrigin, type DeliveryRow } from './webhook-deliveries.repository.js';

export type EndpointTarget = WebhookEndpointsForEventReply['endpoints'][number];

/** Pending deliveries whose endpoint state is asked of merchants when a merchant lists its deliveries. */
export const pending_endpoints_checked_max = 64;

/** What push asks merchants about endpoints (merchants owns them and their secrets). */
@Injectable()
export class MerchantEndpoints {
  private readonly logger = new Logger(MerchantEndpoints.name);

  constructor(private readonly rpc: RpcClient) {}

  /** The merchant's enabled endpoints that admit this event type; a merchant unknown to merchants has none. */
  async forEvent(merchant_id: string, type: string): Promise<EndpointTarget[]> {
    try {
      const reply = await this.rpc.request<WebhookEndpointsForEventReply>(Subjects.merchants.webhookEndpointsForEvent, { merchant_id, type });
      return reply.endpoints;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return [];
      throw error;
    }
  }

  /** One delivery of the event per endpoint, inside the caller's transaction. */
  async insertDeliveries(
    manager: EntityManager,
    event: { id: string; merchant_id: string },
    endpoints: readonly EndpointTarget[],
    origin: DeliveryOrigin,
  ): Promise<DeliveryRow[]> {
    const rows: DeliveryRow[] = [];
    for (const endpoint of endpoints) {
      const row = await insertDelivery(manager, { event_id: event.id, merchant_id: event.merchant_id, endpoint_id: endpoint.id, url: endpoint.url, origin });
      if (row !== null) rows.push(row);
    }
    return rows;
  }

  /**
   * API.md: a disabled or deleted endpoint's pending deliveries read failed.
   * Asked of merchants before a merchant reads its deliveries; a delivery
   * made before the endpoint was last enabled was pending while it was off.
   */
  async failDeliveriesOfEndpointsOff(manager: EntityManager, merchant_id: string): Promise<void> {
    const pending = await pendingEndpointsOf(manager, merchant_id, pending_endpoints_checked_max);
    if (pending.length === 0) return;
    const reply = await this.rpc.request<WebhookEndpointStatesReply>(Subjects.merchants.webhookEndpointsStates, { merchant_id, endpoint_ids: pending });
    const enabled = new Map(reply.enabled.map((state) => [state.id, state.enabled_since_ms]));
    const off = pending.map((id) => ({ id, created_before_ms: enabled.get(id) ?? Number.POSITIVE_INFINITY }));
    await failPendingOfEndpoints(manager, off, 'the endpoint was disabled or deleted');
  }

  /** push gives up on an endpoint (410, or days of failures): merchants disables it and tells the merchant's stream. */
  async disable(manager: EntityManager, merchant_id: string, endpoint_id: string, reason: 'gone' | 'failing'): Promise<void> {
    try {
      await this.rpc.request<DisableWebhookEndpointReply>(Subjects.merchants.webhookEndpointsDisable, { merchant_id, endpoint_id, reason });
    } catch (error) {
      // Its next failure asks again.
      this.logger.warn({ err: error, endpoint: endpoint_id }, 'could not disable a webhook endpoint; will ask again');
      return;
    }
    await failPendingOfEndpoints(manager, [{ id: endpoint_id, created_before_ms: Number.POSITIVE_INFINITY }], reason === 'gone' ? 'the endpoint answered 410 Gone and was disabled' : 'the endpoint failed for days and was disabled');
  }
}
