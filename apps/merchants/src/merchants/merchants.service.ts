import { Inject, Injectable } from '@nestjs/common';
import {
  ApiError,
  type BalanceObject,
  type CreateLedgerAccountReply,
  type Currency,
  IdPrefix,
  type MerchantObject,
  type MerchantPrincipal,
  newId,
  type StreamTokenObject,
  Subjects,
} from '@paynet/contracts';
import { CONFIG, type IdempotencyClaim, type Principal, RpcClient, SECRET_BOX, SecretBox, withTransaction } from '@paynet/platform';
import { generateWebhookSecret } from '@paynet/signatures';
import { DataSource } from 'typeorm';
import type { MerchantsConfig } from '../config.js';
import { CredentialsService, rotation_grace_seconds_default } from '../credentials/credentials.service.js';
import type { CreateMerchantBody } from './merchants.dto.js';
import { WebhookEndpointsService } from '../webhook-endpoints/webhook-endpoints.service.js';
import { MerchantCache } from './merchant-cache.js';

interface MerchantRow {
  id: string;
  name: string;
  currency: string;
  fee_bps: number;
  webhook_url: string | null;
  webhook_secret_sealed: string;
  account_id: string;
  created: string;
}

/** webhook_url is the first endpoint's URL while it is enabled (API.md: the merchant's first endpoint). */
const merchant_columns = `id, name, currency, fee_bps, webhook_secret_sealed, account_id, floor(extract(epoch FROM created_at))::bigint AS created,
  (SELECT CASE WHEN e.status = 'enabled' THEN e.url END FROM webhook_endpoints e WHERE e.merchant_id = merchants.id ORDER BY e.seq LIMIT 1) AS webhook_url`;
const merchant_select = `SELECT ${merchant_columns} FROM merchants`;

@Injectable()
export class MerchantsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly credentials: CredentialsService,
    private readonly rpc: RpcClient,
    private readonly endpoints: WebhookEndpointsService,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    @Inject(CONFIG) private readonly config: MerchantsConfig,
    private readonly cache: MerchantCache<MerchantRow>,
  ) {}

  /**
   * The ledger account is made first (its id is ours, so a re-send makes no
   * second one); then the merchant, its first key and the stored answer
   * commit together.
   */
  async create(body: CreateMerchantBody, claim: IdempotencyClaim | undefined): Promise<MerchantObject> {
    const webhook_url = body.webhook_url == null ? null : await this.endpoints.checkUrl(body.webhook_url, 'webhook_url');
    const id = newId(IdPrefix.merchant);
    const account_id = newId(IdPrefix.account);
    await this.rpc.request<CreateLedgerAccountReply>(Subjects.accounts.accountsCreate, {
      account_id,
      kind: 'merchant',
      currency: body.currency,
      owner_name: body.name,
    });
    const webhook_secret = generateWebhookSecret();
    return withTransaction(this.dataSource, async (manager) => {
      await manager.query(
        `INSERT INTO merchants (id, name, currency, fee_bps, webhook_secret_sealed, account_id) VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, body.name, body.currency, body.fee_bps ?? 0, this.box.seal(webhook_secret, id), account_id],
      );
      if (webhook_url !== null) await this.endpoints.createFirst(manager, id, webhook_url);
      const rows: MerchantRow[] = await manager.query(`${merchant_select} WHERE id = $1`, [id]);
      const key = await this.credentials.issueKey(manager, id);
      const answer: MerchantObject = { ...mapMerchant(rows[0] as MerchantRow), ...key, webhook_secret };
      await claim?.complete(manager, 201, answer);
      return answer;
    });
  }

  async retrieve(principal: Principal, id: string): Promise<MerchantObject> {
    return mapMerchant(await this.visible(principal, id));
  }

  async balance(principal: Principal, id: string): Promise<BalanceObject> {
    const merchant = await this.visible(principal, id);
    return this.rpc.request<BalanceObject>(Subjects.accounts.balancesGet, { account_id: merchant.account_id });
  }

  async setWebhookUrl(principal: Principal, id: string, url: string | null): Promise<MerchantObject> {
    await this.visible(principal, id);
    await this.endpoints.setFirstUrl(id, url);
    return mapMerchant(await this.visible(principal, id));
  }

  async rotateKey(principal: Principal, id: string, grace_seconds: number | undefined): Promise<MerchantObject> {
    const merchant = await this.visible(principal, id);
    const key = await withTransaction(this.dataSource, (manager) =>
      this.credentials.rotateKey(manager, id, grace_seconds ?? rotation_grace_seconds_default),
    );
    return { ...mapMerchant(merchant), ...key };
  }

  async streamToken(principal: Principal, id: string): Promise<StreamTokenObject> {
    await this.visible(principal, id);
    return { object: 'stream_token', ...(await this.credentials.issueStreamToken(id, this.config.STREAM_TOKEN_TTL_SECONDS)) };
  }

  async principal(merchant_id: string): Promise<MerchantPrincipal> {
    const row = await this.find(merchant_id);
    if (!row) throw ApiError.notFound('merchant', merchant_id);
    return toPrincipal(row);
  }

  /** A merchant sees only itself; any other id is "not found". */
  private async visible(principal: Principal, id: string): Promise<MerchantRow> {
    const allowed = principal.kind === 'operator' || (principal.kind === 'merchant' && principal.merchant.merchant_id === id);
    const row = allowed ? await this.find(id) : undefined;
    if (!row) throw ApiError.notFound('merchant', id);
    return row;
  }

  /** Through the cache: read on every signed request and merchant lookup; dropped by every change of an endpoint (the first one is webhook_url). */
  private find(id: string): Promise<MerchantRow | undefined> {
    return this.cache.get(id, async () => {
      const rows: MerchantRow[] = await this.dataSource.query(`${merchant_select} WHERE id = $1`, [id]);
      return rows[0];
    });
  }
}

function toPrincipal(row: MerchantRow): MerchantPrincipal {
  return {
    merchant_id: row.id,
    name: row.name,
    currency: row.currency.trim() as Currency,
    fee_bps: row.fee_bps,
    account_id: row.account_id,
    webhook_url: row.webhook_url,
  };
}

export function mapMerchant(row: MerchantRow): MerchantObject {
  return {
    id: row.id,
    object: 'merchant',
    name: row.name,
    currency: row.currency.trim() as Currency,
    fee_bps: row.fee_bps,
    webhook_url: row.webhook_url,
    created: Number(row.created),
  };
}
