import { Inject, Injectable } from '@nestjs/common';
import {
  amountFromWire,
  ApiError,
  type BalanceObject,
  balanceToJson,
  type GetBalanceReply,
  type CreateLedgerAccountReply,
  type Currency,
  IdPrefix,
  type MerchantObject,
  type MerchantPrincipal,
  newId,
  type StreamTokenObject,
  Broadcasts,
  Subjects,
  type JsonInteger,
} from '@paynet/contracts';
import { CONFIG, type IdempotencyClaim, type Principal, RevocationAnnouncer, RpcClient, SECRET_BOX, SecretBox, withTransaction } from '@paynet/platform';
import { generateWebhookSecret } from '@paynet/signatures';
import { createHash } from 'node:crypto';
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

/** Characters of a derived id: base 36, 24 of them carry about 124 bits of the digest. */
const derived_id_length = 24;

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
    private readonly revocations: RevocationAnnouncer,
  ) {}

  /**
   * The ledger account is made first (its id is ours, so a re-send makes no
   * second one); then the merchant, its first key and the stored answer
   * commit together.
   */
  async create(body: CreateMerchantBody, claim: IdempotencyClaim | undefined): Promise<MerchantObject> {
    const webhook_url = body.webhook_url == null ? null : await this.endpoints.checkUrl(body.webhook_url, 'webhook_url');
    const id = newId(IdPrefix.merchant);
    const account_id = claim ? await this.accountIdFor(claim) : newId(IdPrefix.account);
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

  /**
   * The ledger account id of a creation sent with an Idempotency-Key, the
   * same for every send of that key and body: when accounts' answer was lost
   * (a timeout releases the key), the re-send reuses the account the first
   * send made instead of opening a second. Once a merchant holds it, the key
   * was kept past its retention and is being used afresh: a new id.
   */
  private async accountIdFor(claim: IdempotencyClaim): Promise<string> {
    const digest = createHash('sha256').update(`merchant-account\n${claim.scope}\n${claim.key}\n${claim.fingerprint}`).digest('hex');
    const account_id = `${IdPrefix.account}_${BigInt(`0x${digest}`).toString(36).slice(0, derived_id_length)}`;
    const taken: unknown[] = await this.dataSource.query('SELECT 1 FROM merchants WHERE account_id = $1', [account_id]);
    return taken.length === 0 ? account_id : newId(IdPrefix.account);
  }

  async retrieve(principal: Principal, id: string): Promise<MerchantObject> {
    return mapMerchant(await this.visible(principal, id));
  }

  async balance(principal: Principal, id: string): Promise<BalanceObject<JsonInteger>> {
    const merchant = await this.visible(principal, id);
    const reply = await this.rpc.request<GetBalanceReply>(Subjects.accounts.balancesGet, { account_id: merchant.account_id });
    const exact = (wire: string) => balanceToJson(amountFromWire(wire));
    return { ...reply, posted: exact(reply.posted), pending: exact(reply.pending), available: exact(reply.available) };
  }

  async setWebhookUrl(principal: Principal, id: string, url: string | null): Promise<MerchantObject> {
    await this.visible(principal, id);
    await this.endpoints.setFirstUrl(id, url);
    return mapMerchant(await this.visible(principal, id));
  }

  async rotateKey(principal: Principal, id: string, grace_seconds: number | undefined): Promise<MerchantObject> {
    const merchant = await this.visible(principal, id);
    const { shortened, ...key } = await withTransaction(this.dataSource, (manager) =>
      this.credentials.rotateKey(manager, id, grace_seconds ?? rotation_grace_seconds_default),
    );
    // Committed: every replica's cache drops the old keys (their end moved) before this answers, and push
    // closes the streams under them when they stop (now, or at the end of the grace).
    await Promise.all([
      this.credentials.forgetKeys(shortened.ids, Date.now()),
      this.revocations.announce(Broadcasts.merchantCredentialsRevoked, { credentials: shortened.ids, expires_at: shortened.expires_at }),
    ]);
    return { ...mapMerchant(merchant), ...key };
  }

  async streamToken(principal: Principal, id: string): Promise<StreamTokenObject> {
    await this.visible(principal, id);
    if (principal.kind !== 'merchant') throw ApiError.notFound('merchant', id);
    return { object: 'stream_token', ...(await this.credentials.issueStreamToken(id, principal.api_key.id, this.config.STREAM_TOKEN_TTL_SECONDS)) };
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
