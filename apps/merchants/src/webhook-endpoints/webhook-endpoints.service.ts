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
import {
  CONFIG,
  CredentialCache,
  type CredentialKind,
  type IdempotencyClaim,
  OutboxWriter,
  SECRET_BOX,
  SecretBox,
  type Verified,
  webhookDestinationProblem,
  withTransaction,
} from '@paynet/platform';
import { generateWebhookSecret, signWebhook } from '@paynet/signatures';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import type { MerchantsConfig } from '../config.js';
import { MerchantCache } from '../merchants/merchant-cache.js';
import { all_events } from './event-filter.js';
import {
  type OpenedSigningKey,
  signingCacheKey,
  signingCacheKeysOf,
  type SigningState,
  signingStateOf,
  webhook_signing_cache_entries_max,
  webhook_signing_kind,
} from './signing-keys.js';
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
 * service: push asks for signatures. What an enabled endpoint signs with
 * (its URL, its secrets opened) is kept by the credential cache, as API keys
 * are: a change to an endpoint's URL, status or secrets is refused (503)
 * when this replica cannot tell the others, and answered only once no
 * replica can sign from what it was (docs/SECURITY.md).
 */
@Injectable()
export class WebhookEndpointsService {
  private readonly signing: CredentialKind<OpenedSigningKey>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    @Inject(CONFIG) private readonly config: MerchantsConfig,
    private readonly cache: MerchantCache,
    credentials: CredentialCache,
  ) {
    this.signing = credentials.kind<OpenedSigningKey>(webhook_signing_kind, { max_entries: webhook_signing_cache_entries_max });
  }

  /** 400 with `param` unless the URL passes the platform's guard. */
  async checkUrl(url: string, param: string): Promise<string> {
    const problem = await webhookDestinationProblem(url, { allow_private: this.config.webhook_allow_private });
    if (problem !== null) throw ApiError.badRequest(ErrorCode.parameter_invalid, `${param} ${problem}.`, param);
    return url;
  }

  async create(merchant_id: string, body: CreateEndpointBody, claim: IdempotencyClaim | undefined): Promise<WebhookEndpointObject> {
    const url = await this.checkUrl(body.url, 'url');
    const secret = generateWebhookSecret();
    const id = newId(IdPrefix.webhook_endpoint);
    // Nothing kept can name a new endpoint (an endpoint that is off or absent is never kept); told all the same.
    return this.changingSigning(merchant_id, (touched) =>
      withTransaction(this.dataSource, async (manager) => {
        if ((await lockAndCountEndpoints(manager, merchant_id)) >= webhook_endpoints_per_merchant_max) {
          throw ApiError.badRequest(ErrorCode.resource_limit_exceeded, `A merchant has at most ${webhook_endpoints_per_merchant_max} webhook endpoints.`);
        }
        touched.add(id);
        const row = await insertEndpoint(manager, {
          id,
          merchant_id,
          url,
          enabled_events: body.enabled_events ?? [all_events],
          description: body.description ?? null,
        });
        await this.addSecret(manager, row.id, secret);
        const answer = { ...mapEndpoint(row), secret };
        await claim?.complete(manager, 201, answer);
        return answer;
      }).finally(() => this.cache.changed(merchant_id)),
    );
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
    await this.changingSigning(merchant_id, (touched) =>
      withTransaction(this.dataSource, async (manager) => {
        await lockAndCountEndpoints(manager, merchant_id);
        const first = await firstEndpoint(manager, merchant_id);
        if (first !== undefined) touched.add(first.id);
        if (checked === null) {
          if (first !== undefined) await updateEndpoint(manager, merchant_id, first.id, { status: 'disabled', disabled_reason: 'merchant' });
        } else if (first === undefined) {
          touched.add((await this.createFirst(manager, merchant_id, checked)).id);
        } else {
          await updateEndpoint(manager, merchant_id, first.id, { url: checked, status: 'enabled' });
        }
      }).finally(() => this.cache.changed(merchant_id)),
    );
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
    const change = () => updateEndpoint(this.dataSource.manager, merchant_id, id, { ...body, url, disabled_reason });
    // Its filter and description are not what a webhook is signed with or sent to: no invalidation for them.
    const signs_differently = body.url !== undefined || body.status !== undefined;
    const row = signs_differently
      ? await this.changingSigning(merchant_id, (touched) => {
          touched.add(id);
          return change();
        })
      : await change();
    this.cache.changed(merchant_id);
    if (row === undefined) throw ApiError.notFound('webhook endpoint', id);
    return mapEndpoint(row);
  }

  async remove(merchant_id: string, id: string): Promise<{ id: string; object: 'webhook_endpoint'; deleted: true }> {
    const deleted = await this.changingSigning(merchant_id, (touched) => {
      touched.add(id);
      return deleteEndpoint(this.dataSource.manager, merchant_id, id);
    });
    this.cache.changed(merchant_id);
    if (!deleted) throw ApiError.notFound('webhook endpoint', id);
    return { id, object: 'webhook_endpoint', deleted: true };
  }

  async rotateSecret(merchant_id: string, id: string, grace_seconds: number | undefined): Promise<WebhookEndpointObject> {
    const secret = generateWebhookSecret();
    return this.changingSigning(merchant_id, (touched) =>
      withTransaction(this.dataSource, async (manager) => {
        const row = await this.own(manager, merchant_id, id);
        touched.add(id);
        await endSecretsAfter(manager, id, grace_seconds ?? rotation_grace_seconds_default);
        await this.addSecret(manager, id, secret);
        return { ...mapEndpoint(row), secret };
      }),
    );
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
    // Refused (503) when the other replicas cannot be told: push asks again at the endpoint's next failure.
    return this.changingSigning(request.merchant_id, (touched) =>
      withTransaction(this.dataSource, async (manager) => {
        const row = await updateEndpoint(manager, request.merchant_id, request.endpoint_id, { status: 'disabled', disabled_reason: request.reason }, true);
        if (row === undefined) return { disabled: false };
        touched.add(row.id);
        await this.outbox.add(manager, [disabledEvent(mapEndpoint(row), request.merchant_id)]);
        return { disabled: true };
      }).finally(() => this.cache.changed(request.merchant_id)),
    );
  }

  /**
   * Signs each webhook with every valid secret of its endpoint; a disabled or
   * deleted endpoint has no URL to send to. What a webhook needs (its
   * merchant, endpoint and secrets) comes from the credential cache; what is
   * not kept there is read by one query for all of them.
   */
  async sign(request: SignWebhooksRequest): Promise<SignWebhooksReply> {
    const states = await this.signingStates(request.webhooks);
    return {
      signed: request.webhooks.map((webhook) => {
        const state = states.get(signingCacheKey(webhook.merchant_id, webhook.endpoint_id)) ?? { merchant_missing: true as const };
        if ('merchant_missing' in state) return state;
        if (state.url === null) return { url: null, signature: '' };
        const signatures = state.secrets.map((secret) =>
          signWebhook({ secret, msg_id: webhook.msg_id, timestamp: webhook.timestamp, payload: webhook.payload }),
        );
        return { url: state.url, signature: signatures.join(' '), enabled_since_ms: state.enabled_since_ms };
      }),
    };
  }

  /** By cache key: the kept signing keys, and what one read found for the rest (kept when their endpoint is enabled). */
  private async signingStates(webhooks: readonly { merchant_id: string; endpoint_id?: string }[]): Promise<Map<string, SigningState>> {
    const targets = new Map(webhooks.map((webhook) => [signingCacheKey(webhook.merchant_id, webhook.endpoint_id), webhook]));
    const read = new Map<string, SigningState>();
    const kept = await this.signing.lookupMany([...targets.keys()], async (missing) => {
      const asked = missing.map((key) => {
        const target = targets.get(key);
        if (target === undefined) throw new Error(`the credential cache asked for a signing key nobody wanted: ${key}`);
        return target;
      });
      const rows = await signingKeys(this.dataSource.manager, asked);
      const verified = new Map<string, Verified<OpenedSigningKey>>();
      missing.forEach((key, index) => {
        const row = rows[index];
        if (row === undefined) return;
        const found = signingStateOf(row, (secret) => this.box.open(secret.secret_sealed, secret.id));
        read.set(key, found.state);
        if (found.verified !== undefined) verified.set(key, found.verified);
      });
      return verified;
    });
    for (const [key, value] of kept) read.set(key, value);
    return read;
  }

  /**
   * A change to what endpoints of `merchant_id` sign with or send to: `change`
   * adds each endpoint it touches. Refused (503, nothing changed) when this
   * replica cannot tell the others; once it committed, every replica drops
   * those endpoints' kept signing keys before it answers. Also after it
   * failed: a COMMIT whose answer was lost may have committed.
   */
  private async changingSigning<T>(merchant_id: string, change: (touched: Set<string>) => Promise<T>): Promise<T> {
    this.signing.assertCanInvalidate();
    const touched = new Set<string>();
    try {
      return await change(touched);
    } finally {
      await this.signing.invalidate(signingCacheKeysOf(merchant_id, touched), Date.now());
    }
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
