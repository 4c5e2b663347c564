import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  admitsEvent,
  type DisableWebhookEndpointReply,
  type EnabledWebhookEndpoint,
  type EnabledWebhookEndpointsReply,
  type NatsNames,
  Subjects,
  type WebhookEndpointStatesReply,
} from '@paynet/contracts';
import { NATS_CONNECTION, NATS_NAMES, RpcClient, subscribeMerchantChanges } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
import { failPendingOfEndpoints, insertDeliveries, pendingEndpointsOf, type DeliveryOrigin, type DeliveryRow } from './webhook-deliveries.repository.js';

/** An endpoint a delivery goes to. */
export interface EndpointTarget {
  id: string;
  url: string;
}

/** Pending deliveries whose endpoint state is asked of merchants when a merchant lists its deliveries. */
export const pending_endpoints_checked_max = 64;
/**
 * A safety net, not the mechanism: a change broadcast lost (core NATS is at
 * most once, e.g. across a reconnect) is corrected after this long.
 */
export const endpoint_cache_ttl_ms = 30_000;
/** Merchants whose endpoint lists are kept; past it the oldest go first. */
export const endpoint_cache_merchants_max = 10_000;
/** Merchants asked about in one request (merchants accepts up to 1,000). */
export const endpoint_lookup_merchants_max = 500;

interface CachedEndpoints {
  endpoints: readonly EnabledWebhookEndpoint[];
  until_ms: number;
}

/**
 * What push asks merchants about endpoints (merchants owns them and their
 * secrets). Each merchant's enabled endpoints (URL and filter) are cached:
 * the recorder asks once per batch of events for the merchants it does not
 * have, in one request, instead of once per event. merchants broadcasts
 * `merchants.merchants.changed` after every endpoint change, which drops the
 * merchant here at once; a lookup that raced a change is not kept.
 */
@Injectable()
export class MerchantEndpoints implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(MerchantEndpoints.name);
  private readonly cache = new Map<string, CachedEndpoints>();
  private generation = 0;
  private subscription: Subscription | undefined;

  constructor(
    private readonly rpc: RpcClient,
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = subscribeMerchantChanges(this.nats, this.names, this.logger, (merchant_id) => this.drop(merchant_id));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.drain().catch(() => undefined);
  }

  /**
   * The enabled endpoints of each merchant (cached, or asked of merchants in
   * one request for all the missing ones); a merchant unknown to merchants has none.
   */
  async ofMerchants(merchant_ids: Iterable<string>): Promise<Map<string, readonly EnabledWebhookEndpoint[]>> {
    const now = Date.now();
    const found = new Map<string, readonly EnabledWebhookEndpoint[]>();
    const missing: string[] = [];
    for (const merchant_id of new Set(merchant_ids)) {
      const cached = this.cache.get(merchant_id);
      if (cached !== undefined && cached.until_ms > now) found.set(merchant_id, cached.endpoints);
      else missing.push(merchant_id);
    }
    for (let start = 0; start < missing.length; start += endpoint_lookup_merchants_max) {
      const asked = missing.slice(start, start + endpoint_lookup_merchants_max);
      const generation = this.generation;
      const reply = await this.rpc.request<EnabledWebhookEndpointsReply>(Subjects.merchants.webhookEndpointsEnabled, { merchant_ids: asked });
      const known = new Map(reply.merchants.map((merchant) => [merchant.merchant_id, merchant.endpoints]));
      for (const merchant_id of asked) {
        const endpoints = known.get(merchant_id);
        found.set(merchant_id, endpoints ?? []);
        // An unknown merchant is not kept (it may yet be created); nor is a lookup a change overtook.
        if (endpoints !== undefined && generation === this.generation) this.keep(merchant_id, endpoints);
      }
    }
    return found;
  }

  /** The merchant's enabled endpoints that admit this event type, asked of merchants now (not cached): for a merchant's own redelivery. */
  async forEvent(merchant_id: string, type: string): Promise<EndpointTarget[]> {
    this.drop(merchant_id);
    const endpoints = (await this.ofMerchants([merchant_id])).get(merchant_id) ?? [];
    return admitting(endpoints, type);
  }

  /** One delivery of the event per endpoint, inside the caller's transaction. */
  async insertDeliveries(
    manager: EntityManager,
    event: { id: string; merchant_id: string },
    endpoints: readonly EndpointTarget[],
    origin: DeliveryOrigin,
  ): Promise<DeliveryRow[]> {
    return insertDeliveries(
      manager,
      endpoints.map((endpoint) => ({ event_id: event.id, merchant_id: event.merchant_id, endpoint_id: endpoint.id, url: endpoint.url })),
      origin,
    );
  }

  private drop(merchant_id: string): void {
    this.generation += 1;
    this.cache.delete(merchant_id);
  }

  private keep(merchant_id: string, endpoints: readonly EnabledWebhookEndpoint[]): void {
    this.cache.delete(merchant_id);
    if (this.cache.size >= endpoint_cache_merchants_max) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(merchant_id, { endpoints, until_ms: Date.now() + endpoint_cache_ttl_ms });
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

/** Pure: the endpoints whose filter admits the event type, as delivery targets. */
export function admitting(endpoints: readonly EnabledWebhookEndpoint[], type: string): EndpointTarget[] {
  return endpoints.filter((endpoint) => admitsEvent(endpoint.enabled_events, type)).map(({ id, url }) => ({ id, url }));
}
