import { Injectable, Logger } from '@nestjs/common';
import {
  ApiError,
  ErrorCode,
  feeMinor,
  IdPrefix,
  type ListResponse,
  newId,
  type PaymentIntentObject,
  PlatformAccount,
  type PostTransferCommand,
  Subjects,
  type TransferLine,
  type TransferReply,
} from '@paynet/contracts';
import { type IdempotencyClaim, OutboxWriter, type Principal, RpcClient, updateReturning, withTransaction } from '@paynet/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { effectiveIntent, intent_columns, intentEvent, mapPaymentIntent, type PaymentIntentRow } from './payment-intent.js';
import type { CreatePaymentIntentBody } from './payment-intents.dto.js';
import { isRefusal, ledgerUnavailable, PaymentOutcomes } from './payment-outcomes.js';

type HolderPrincipal = Extract<Principal, { kind: 'holder' }>;
type MerchantPrincipal = Extract<Principal, { kind: 'merchant' }>;

const now_seconds = () => Math.floor(Date.now() / 1000);

/**
 * The payment flow. Money moves only in accounts; an intent records which
 * transfer id it asked for (`<intent>:pay:<attempt>`), so an answer lost to a
 * timeout is settled by sending the same transfer again: accounts applies a
 * transfer id at most once.
 */
@Injectable()
export class PaymentIntentsService {
  private readonly logger = new Logger(PaymentIntentsService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly outbox: OutboxWriter,
    private readonly outcomes: PaymentOutcomes,
  ) {}

  async create(principal: MerchantPrincipal, body: CreatePaymentIntentBody, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    const merchant = principal.merchant;
    if (body.capture_method === 'manual') {
      // Holds (pay, then capture or cancel) are not built yet; capturing at once
      // instead of holding would surprise the merchant, so refuse it plainly.
      throw ApiError.badRequest(ErrorCode.parameter_invalid, "capture_method 'manual' is not available yet; use 'automatic'.", 'capture_method');
    }
    if (body.currency !== merchant.currency) {
      throw ApiError.badRequest(ErrorCode.parameter_invalid, `currency must be the merchant's currency, ${merchant.currency}.`, 'currency');
    }
    return withTransaction(this.dataSource, async (manager) => {
      const rows: PaymentIntentRow[] = await manager.query(
        `INSERT INTO payment_intents (id, merchant_id, merchant_name, merchant_account_id, fee_bps, amount, currency, reference,
           description, capture_method, status, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requires_payment', now() + make_interval(secs => $11))
         RETURNING ${intent_columns}`,
        [newId(IdPrefix.payment_intent), merchant.merchant_id, merchant.name, merchant.account_id, merchant.fee_bps,
          body.amount.toString(), body.currency, body.reference, body.description ?? null, body.capture_method, body.expires_in],
      );
      const intent = mapPaymentIntent(rows[0] as PaymentIntentRow);
      await this.outbox.add(manager, [intentEvent('payment_intent.created', intent, null)]);
      await claim?.complete(manager, 201, intent);
      return intent;
    });
  }

  async retrieve(principal: Principal, id: string): Promise<PaymentIntentObject> {
    const row = await this.find(this.dataSource.manager, id, false);
    if (!row || !canSee(principal, row)) throw ApiError.notFound('payment_intent', id);
    return mapPaymentIntent(effectiveIntent(row, now_seconds()));
  }

  async list(principal: MerchantPrincipal, page: { limit: number; starting_after?: string; status?: string }): Promise<ListResponse<PaymentIntentObject>> {
    const merchant_id = principal.merchant.merchant_id;
    const cursor = page.starting_after ? await this.cursorSeq(merchant_id, page.starting_after) : null;
    const rows: PaymentIntentRow[] = await this.dataSource.query(
      `SELECT ${intent_columns} FROM payment_intents
       WHERE merchant_id = $1 AND ($2::bigint IS NULL OR seq < $2) AND ($3::text IS NULL OR ${status_sql} = $3)
       ORDER BY seq DESC LIMIT $4`,
      [merchant_id, cursor, page.status ?? null, page.limit + 1],
    );
    const now = now_seconds();
    return {
      object: 'list',
      data: rows.slice(0, page.limit).map((row) => mapPaymentIntent(effectiveIntent(row, now))),
      has_more: rows.length > page.limit,
    };
  }

  /**
   * Pays an intent from the holder's wallet: (1) mark it processing with a
   * new attempt, (2) ask accounts to post that attempt's transfer, (3) record
   * the outcome with its event and the idempotent answer in one transaction.
   */
  async pay(principal: HolderPrincipal, id: string, account_id: string, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    if (account_id !== principal.account_id) throw ApiError.notFound('account', account_id, 'account');
    const started = await withTransaction(this.dataSource, (manager) => this.startAttempt(manager, principal, id));
    let reply: TransferReply;
    try {
      reply = await this.rpc.request<TransferReply>(Subjects.accounts.transfersPost, payTransfer(started));
    } catch (error) {
      return this.payFailed(started, error, claim);
    }
    this.logger.log({ payment_intent: id, transfer_id: reply.transfer_id, result: reply.result }, 'payment posted');
    return withTransaction(this.dataSource, async (manager) => {
      // Settled already by a concurrent re-drive of the same attempt, or the reconciler: answer what it recorded.
      const intent = (await this.outcomes.recordSucceeded(manager, started)) ?? mapPaymentIntent((await this.find(manager, id, false)) as PaymentIntentRow);
      await claim?.complete(manager, 200, intent);
      return intent;
    });
  }

  /** Locks the intent; a payable one becomes `processing` with a new attempt, one already processing for this payer is re-driven. */
  private async startAttempt(manager: EntityManager, principal: HolderPrincipal, id: string): Promise<PaymentIntentRow> {
    const locked = await this.find(manager, id, true);
    if (!locked) throw ApiError.notFound('payment_intent', id);
    const row = effectiveIntent(locked, now_seconds());
    if (row.status === 'processing' && row.payer_account === principal.account_id) return row;
    if (row.status !== 'requires_payment') {
      throw ApiError.conflict(ErrorCode.payment_intent_unexpected_state, `This payment intent is ${row.status} and cannot be paid.`);
    }
    if (principal.currency !== row.currency.trim()) {
      throw ApiError.payment(ErrorCode.currency_mismatch, `The account is in ${principal.currency}; this payment is in ${row.currency.trim()}.`, 'account');
    }
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET status = 'processing', attempt = attempt + 1, payer_account = $2, attempt_sent_at = now()
       WHERE id = $1 RETURNING ${intent_columns}`,
      [id, principal.account_id],
    );
    return rows[0] as PaymentIntentRow;
  }

  /**
   * A transfer accounts refused (any 4xx: insufficient funds, an account
   * gone) was not applied, and never will be under this attempt's id: the
   * intent goes back to requires_payment with the reason, so the holder can
   * try again. An unknown outcome (timeout, 5xx) leaves it processing and
   * answers 503 (not stored): the reconciler settles it, and paying again
   * with the same key re-sends the same transfer id, which settles it too.
   */
  private async payFailed(started: PaymentIntentRow, error: unknown, claim: IdempotencyClaim | undefined): Promise<never> {
    if (!isRefusal(error)) {
      this.logger.warn({ payment_intent: started.id, attempt: started.attempt, err: error }, 'payment outcome unknown; left processing');
      throw ledgerUnavailable();
    }
    await withTransaction(this.dataSource, async (manager) => {
      await this.outcomes.recordRefused(manager, started, error);
      await claim?.complete(manager, error.status, error.toBody());
    });
    throw error;
  }

  private async find(manager: EntityManager, id: string, lock: boolean): Promise<PaymentIntentRow | undefined> {
    const rows: PaymentIntentRow[] = await manager.query(
      `SELECT ${intent_columns} FROM payment_intents WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0];
  }

  private async cursorSeq(merchant_id: string, id: string): Promise<string> {
    const rows: { seq: string }[] = await this.dataSource.query('SELECT seq FROM payment_intents WHERE id = $1 AND merchant_id = $2', [id, merchant_id]);
    if (!rows[0]) throw ApiError.badRequest(ErrorCode.parameter_invalid, `No such payment_intent: '${id}'`, 'starting_after');
    return rows[0].seq;
  }
}

/** The status as a reader sees it, in SQL: expired intents read canceled. */
const status_sql = `CASE WHEN status = 'requires_payment' AND expires_at <= now() THEN 'canceled' ELSE status END`;

/** The owning merchant, or the holder who paid it; to anyone else it does not exist. */
function canSee(principal: Principal, row: PaymentIntentRow): boolean {
  switch (principal.kind) {
    case 'operator':
      return true;
    case 'merchant':
      return principal.merchant.merchant_id === row.merchant_id;
    case 'holder':
      return row.payer_account === principal.account_id;
  }
}

/** Wallet pays the amount; the merchant gets it less the fee; the fee goes to the platform. */
export function payTransfer(row: PaymentIntentRow): PostTransferCommand {
  const amount = BigInt(row.amount);
  const fee = feeMinor(amount, row.fee_bps);
  const lines: TransferLine[] = [{ account: row.payer_account as string, direction: 'debit', amount_minor: amount.toString() }];
  if (amount - fee > 0n) lines.push({ account: row.merchant_account_id, direction: 'credit', amount_minor: (amount - fee).toString() });
  if (fee > 0n) lines.push({ account: PlatformAccount.fees, direction: 'credit', amount_minor: fee.toString() });
  return {
    transfer_id: `${row.id}:pay:${row.attempt}`,
    currency: row.currency.trim() as PostTransferCommand['currency'],
    description: `Payment to ${row.merchant_name} (${row.reference})`,
    payment_intent: row.id,
    lines,
  };
}
