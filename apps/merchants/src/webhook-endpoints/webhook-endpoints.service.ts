import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  type DisableWebhookEndpointReply,
  type DisableWebhookEndpointRequest,
  ErrorCode,
  IdPrefix,
  type ListResponse,
  newId,
  type PlatformEvent,
  type EnabledWebhookEndpointsReply,
  type EnabledWebhookEndpointsRequest,
  type SignWebhooksReply,
  type SignWebhooksRequest,
  type WebhookEndpointObject,
  type WebhookEndpointStatesReply,
  type WebhookEndpointStatesRequest,
} from '@paynet/contracts';
import { CONFIG, type IdempotencyClaim, OutboxWriter, SECRET_BOX, SecretBox, webhookDestinationProblem, withTransaction } from '@paynet/platform';
import { generateWebhookSecret, signWebhook } from '@paynet/signatures';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import type { MerchantsConfig } from '../config.js';
import { MerchantCache } from '../merchants/merchant-cache.js';
import { all_events } from './event-filter.js';
import {
  deleteEndpoint,
  enabledAmong,
  enabledEndpointsOf,
  type EndpointRow,
  endpointSeq,
  endSecretsAfter,
  findEndpoint,
  firstEndpoint,
  insertEndpoint,
  insertSecret,
  listEndpoints,
  lockAndCountEndpoints,
  merchantWebhookSecretSealed,
  signingKeys,
  updateEndpoint,
} from './webhook-endpoints.repository.js';
import {
  type CreateEndpointBody,
  rotation_grace_seconds_default,
  type UpdateEndpointBody,
  webhook_endpoints_per_merchant_max,
} from './webhook-endpoints.dto.js';

/**
 * A merchant's webhook endpoints (API.md): their URLs, filters and secrets.
 * Secrets are sealed at rest, each with its own row id, and never leave this
 * service: push asks for signatures.
 */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    @Inject(CONFIG) private readonly config: MerchantsConfig,
    private readonly cache: MerchantCache,
  ) {}

  /** 400 with `param` unless the URL passes the platform's guard. */
  async checkUrl(url: string, param: string): Promise<string> {
    const problem = await webhookDestinationProblem(url, { allow_private: this.config.webhook_allow_private });
    if (problem !== null) throw ApiError.badRequest(ErrorCode.parameter_invalid, `${param} ${problem}.`, param);
    return url;
  }

  async create(merchant_id: string, body: CreateEndpointBody, claim: IdempotencyClaim | undefined): Promise<WebhookEndpointObject> {
    const url = await this.checkUrl(body.url, 'url');
    const secret = generateWebhookSecret();
    return withTransaction(this.dataSource, async (manager) => {
      if ((await lockAndCountEndpoints(manager, merchant_id)) >= webhook_endpoints_per_merchant_max) {
        throw ApiError.badRequest(ErrorCode.resource_limit_exceeded, `A merchant has at most ${webhook_endpoints_per_merchant_max} webhook endpoints.`);
      }
      const row = await insertEndpoint(manager, {
        id: newId(IdPrefix.webhook_endpoint),
        merchant_id,
        url,
        enabled_events: body.enabled_events ?? [all_events],
        description: body.description ?? null,
      });
      await this.addSecret(manager, row.id, secret);
      const answer = { ...mapEndpoint(row), secret };
      await claim?.complete(manager, 201, answer);
      return answer;
    }).finally(() => this.cache.changed(merchant_id));
  }

  /**
   * The first endpoint of a merchant (POST /v1/merchants, the older
   * webhook-endpoint route): it signs with the merchant's own webhook secret,
   * sealed under the merchant's id, so the secret shown at onboarding works.
   */
  async createFirst(manager: EntityManager, merchant_id: string, url: string): Promise<EndpointRow> {
    const secret_sealed = await merchantWebhookSecretSealed(manager, merchant_id);
    if (secret_sealed === undefined) throw ApiError.notFound('merchant', merchant_id);
    const row = await insertEndpoint(manager, { id: newId(IdPrefix.webhook_endpoint), merchant_id, url, enabled_events: [all_events], description: null });
    await insertSecret(manager, { id: merchant_id, endpoint_id: row.id, secret_sealed });
    return row;
  }

  /** The older route: set the first endpoint's URL (making one if none is left), or disable it with null. */
  async setFirstUrl(merchant_id: string, url: string | null): Promise<void> {
    const checked = url === null ? null : await this.checkUrl(url, 'url');
    await withTransaction(this.dataSource, async (manager) => {
      await lockAndCountEndpoints(manager, merchant_id);
      const first = await firstEndpoint(manager, merchant_id);
      if (checked === null) {
        if (first !== undefined) await updateEndpoint(manager, merchant_id, first.id, { status: 'disabled', disabled_reason: 'merchant' });
      } else if (first === undefined) {
        await this.createFirst(manager, merchant_id, checked);
      } else {
        await updateEndpoint(manager, merchant_id, first.id, { url: checked, status: 'enabled' });
      }
    }).finally(() => this.cache.changed(merchant_id));
  }

  async list(merchant_id: string, query: { limit: number; starting_after?: string }): Promise<ListResponse<WebhookEndpointObject>> {
    const manager = this.dataSource.manager;
    let before_seq: string | undefined;
    if (query.starting_after !== undefined) {
      before_seq = await endpointSeq(manager, merchant_id, query.starting_after);
      if (before_seq === undefined) {
        throw ApiError.badRequest(ErrorCode.parameter_invalid, `No such webhook endpoint: '${query.starting_after}'`, 'starting_after');
      }
    }
    const rows = await listEndpoints(manager, { merchant_id, before_seq, limit: query.limit + 1 });
    return { object: 'list', data: rows.slice(0, query.limit).map(mapEndpoint), has_more: rows.length > query.limit };
  }

  async retrieve(merchant_id: string, id: string): Promise<WebhookEndpointObject> {
    return mapEndpoint(await this.own(this.dataSource.manager, merchant_id, id));
  }

  async update(merchant_id: string, id: string, body: UpdateEndpointBody): Promise<WebhookEndpointObject> {
    await this.own(this.dataSource.manager, merchant_id, id);
    const url = body.url === undefined ? undefined : await this.checkUrl(body.url, 'url');
    // A merchant's own disable is no news to it: no event.
    const disabled_reason = body.status === 'disabled' ? 'merchant' : undefined;
    const row = await updateEndpoint(this.dataSource.manager, merchant_id, id, { ...body, url, disabled_reason });
    this.cache.changed(merchant_id);
    if (row === undefined) throw ApiError.notFound('webhook endpoint', id);
    return mapEndpoint(row);
  }

  async remove(merchant_id: string, id: string): Promise<{ id: string; object: 'webhook_endpoint'; deleted: true }> {
    const deleted = await deleteEndpoint(this.dataSource.manager, merchant_id, id);
    this.cache.changed(merchant_id);
    if (!deleted) throw ApiError.notFound('webhook endpoint', id);
    return { id, object: 'webhook_endpoint', deleted: true };
  }

  async rotateSecret(merchant_id: string, id: string, grace_seconds: number | undefined): Promise<WebhookEndpointObject> {
    const secret = generateWebhookSecret();
    return withTransaction(this.dataSource, async (manager) => {
      const row = await this.own(manager, merchant_id, id);
      await endSecretsAfter(manager, id, grace_seconds ?? rotation_grace_seconds_default);
      await this.addSecret(manager, id, secret);
      return { ...mapEndpoint(row), secret };
    });
  }

  // ---- for push, over NATS ----

  /** Every enabled endpoint of these merchants, in one query (push asks once per batch of events it records, then caches). */
  async enabled(request: EnabledWebhookEndpointsRequest): Promise<EnabledWebhookEndpointsReply> {
    const rows = await enabledEndpointsOf(this.dataSource.manager, request.merchant_ids);
    const merchants = new Map<string, EnabledWebhookEndpointsReply['merchants'][number]>();
    for (const row of rows) {
      let merchant = merchants.get(row.merchant_id);
      if (merchant === undefined) merchants.set(row.merchant_id, (merchant = { merchant_id: row.merchant_id, endpoints: [] }));
      if (row.id !== null && row.url !== null) merchant.endpoints.push({ id: row.id, url: row.url, enabled_events: row.enabled_events ?? [] });
    }
    return { merchants: [...merchants.values()] };
  }

  async states(request: WebhookEndpointStatesRequest): Promise<WebhookEndpointStatesReply> {
    const rows = await enabledAmong(this.dataSource.manager, request.merchant_id, request.endpoint_ids);
    return { enabled: rows.map((row) => ({ id: row.id, enabled_since_ms: Number(row.enabled_since_ms) })) };
  }

  /** push gave up on the endpoint (410, or days of failures): disable it and tell the merchant's stream, once. */
  async disable(request: DisableWebhookEndpointRequest): Promise<DisableWebhookEndpointReply> {
    return withTransaction(this.dataSource, async (manager) => {
      const row = await updateEndpoint(manager, request.merchant_id, request.endpoint_id, { status: 'disabled', disabled_reason: request.reason }, true);
      if (row === undefined) return { disabled: false };
      await this.outbox.add(manager, [disabledEvent(mapEndpoint(row), request.merchant_id)]);
      return { disabled: true };
    }).finally(() => this.cache.changed(request.merchant_id));
  }

  /**
   * Signs each webhook with every valid secret of its endpoint; a disabled or
   * deleted endpoint has no URL to send to. What every webhook needs (its
   * merchant, endpoint and secrets) is read by one query for all of them.
   */
  async sign(request: SignWebhooksRequest): Promise<SignWebhooksReply> {
    const keys = await signingKeys(this.dataSource.manager, request.webhooks);
    return {
      signed: request.webhooks.map((webhook, index) => {
        const key = keys[index];
        if (key === undefined || !key.merchant_exists) return { merchant_missing: true as const };
        if (key.endpoint_id === null || key.url === null || key.status !== 'enabled') return { url: null, signature: '' };
        const signatures = key.secrets.map((row) =>
          signWebhook({ secret: this.box.open(row.secret_sealed, row.id), msg_id: webhook.msg_id, timestamp: webhook.timestamp, payload: webhook.payload }),
        );
        return { url: key.url, signature: signatures.join(' '), enabled_since_ms: Number(key.enabled_since_ms) };
      }),
    };
  }

  private async addSecret(manager: EntityManager, endpoint_id: string, secret: string): Promise<void> {
    const id = randomUUID();
    await insertSecret(manager, { id, endpoint_id, secret_sealed: this.box.seal(secret, id) });
  }

  private async own(manager: EntityManager, merchant_id: string, id: string): Promise<EndpointRow> {
    const row = await findEndpoint(manager, merchant_id, id);
    if (row === undefined) throw ApiError.notFound('webhook endpoint', id);
    return row;
  }
}

export function mapEndpoint(row: EndpointRow): WebhookEndpointObject {
  return {
    id: row.id,
    object: 'webhook_endpoint',
    url: row.url,
    enabled_events: row.enabled_events,
    description: row.description,
    status: row.status,
    created: Number(row.created),
  };
}

function disabledEvent(endpoint: WebhookEndpointObject, merchant_id: string): PlatformEvent<WebhookEndpointObject> {
  return {
    id: newId(IdPrefix.event),
    object: 'event',
    type: 'webhook_endpoint.disabled',
    created: Math.floor(Date.now() / 1_000),
    merchant: merchant_id,
    account: null,
    data: { object: endpoint },
  };
}
