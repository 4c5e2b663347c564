import { Injectable, Logger } from '@nestjs/common';
import { ApiError, ErrorCode, IdPrefix, newId, type RefundObject, Subjects, type TransferReply } from '@paynet/contracts';
import { type IdempotencyClaim, OutboxWriter, type Principal, RpcClient, updateReturning, withTransaction } from '@paynet/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { isRefusal } from '../accounts-calls.js';
import { newEvent } from '../events.js';
import { assertUnreachable } from '../unreachable.js';
import { lockMerchantIntent, type PaymentIntentRow } from '../payment-intents/payment-intent.js';
import { mapRefund, refund_columns, refundTransfer, type RefundRow } from './refund.js';
import type { CreateRefundBody } from './refunds.dto.js';

type MerchantPrincipal = Extract<Principal, { kind: 'merchant' }>;

/** A refund to send (new, or one whose answer was lost), or the answer a retried request already has. */
type Reservation = { kind: 'send'; refund: RefundRow; intent: PaymentIntentRow } | { kind: 'answered'; refund: RefundObject };

/**
 * Refunds: (1) under the intent's row lock, check what is left and reserve
 * the amount (a pending refund row and `amount_refund_reserved`), so
 * concurrent refunds never add up to more than amount_received; (2) send
 * the transfer, id = the refund id; (3) record the outcome: succeeded (the
 * reservation becomes amount_refunded, event refund.succeeded) or refused
 * (the reservation is released, nothing changed). A lost answer leaves the
 * refund pending: the same transfer is sent again by a retry of the request
 * (found by its Idempotency-Key) or by the reconciler, and accounts
 * applies it at most once.
 */
@Injectable()
export class RefundsService {
  private readonly logger = new Logger(RefundsService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly outbox: OutboxWriter,
  ) {}

  async create(principal: MerchantPrincipal, intent_id: string, body: CreateRefundBody, claim: IdempotencyClaim | undefined): Promise<RefundObject> {
    if (!claim) throw new Error('a refund needs its Idempotency-Key claim (the route requires the header)');
    const merchant_id = principal.merchant.merchant_id;
    const reservation = await withTransaction(this.dataSource, (manager) => this.reserve(manager, merchant_id, intent_id, body, claim));
    if (reservation.kind === 'answered') return reservation.refund;
    return this.settle(reservation.refund, reservation.intent, claim);
  }

  /** Sends the refund's transfer and records the outcome; safe to call again for a pending refund, from anywhere. */
  async settle(refund: RefundRow, intent: PaymentIntentRow, claim: IdempotencyClaim | undefined): Promise<RefundObject> {
    try {
      const reply = await this.rpc.request<TransferReply>(Subjects.accounts.transfersPost, refundTransfer(refund, intent));
      this.logger.log({ refund: refund.id, payment_intent: intent.id, result: reply.result }, 'refund posted');
    } catch (error) {
      if (!isRefusal(error)) throw error;
      return this.refused(refund, merchantFacing(error), claim);
    }
    return withTransaction(this.dataSource, (manager) => this.recordSucceeded(manager, refund, intent, claim));
  }

  private async reserve(manager: EntityManager, merchant_id: string, intent_id: string, body: CreateRefundBody, claim: IdempotencyClaim): Promise<Reservation> {
    const intent = await lockMerchantIntent(manager, merchant_id, intent_id);
    const existing = await findRefundByKey(manager, merchant_id, claim.key);
    if (existing) return resume(manager, existing, intent, body, claim);
    if (intent.status !== 'succeeded') {
      throw ApiError.conflict(ErrorCode.payment_intent_unexpected_state, `This payment intent is ${intent.status} and cannot be refunded.`);
    }
    const left = BigInt(intent.amount_received) - BigInt(intent.amount_refunded) - BigInt(intent.amount_refund_reserved);
    const amount = body.amount ?? left;
    if (amount > left || amount <= 0n) {
      throw ApiError.badRequest(ErrorCode.amount_too_large, `amount must be at most the ${left} left to refund.`, 'amount');
    }
    const rows: RefundRow[] = await manager.query(
      `INSERT INTO refunds (id, payment_intent_id, merchant_id, idempotency_key, amount, reason, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING ${refund_columns}`,
      [newId(IdPrefix.refund), intent.id, merchant_id, claim.key, amount.toString(), body.reason ?? null],
    );
    await manager.query('UPDATE payment_intents SET amount_refund_reserved = amount_refund_reserved + $2 WHERE id = $1', [intent.id, amount.toString()]);
    return { kind: 'send', refund: rows[0] as RefundRow, intent };
  }

  private async recordSucceeded(
    manager: EntityManager,
    refund: RefundRow,
    intent: PaymentIntentRow,
    claim: IdempotencyClaim | undefined,
  ): Promise<RefundObject> {
    // The intent's row first, as when reserving: one lock order for refunds.
    await manager.query('SELECT 1 FROM payment_intents WHERE id = $1 FOR UPDATE', [intent.id]);
    const rows = await updateReturning<RefundRow>(
      manager,
      `UPDATE refunds SET status = 'succeeded', updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING ${refund_columns}`,
      [refund.id],
    );
    // Recorded already by a concurrent send of the same refund: answer what it recorded.
    const row = rows[0] ?? ((await findRefund(manager, refund.id)) as RefundRow);
    if (row.status !== 'succeeded') throw new Error(`refund ${refund.id} was applied by accounts but is recorded ${row.status}`);
    const answer = mapRefund(row);
    if (rows[0]) {
      await manager.query(
        `UPDATE payment_intents SET amount_refunded = amount_refunded + $2, amount_refund_reserved = amount_refund_reserved - $2 WHERE id = $1`,
        [intent.id, row.amount],
      );
      await this.outbox.add(manager, [newEvent('refund.succeeded', answer, intent.merchant_id, intent.payer_account)]);
    }
    await claim?.complete(manager, 201, answer);
    return answer;
  }

  /** accounts refused the transfer: it was not applied and never will be under this id; the reservation is released. */
  private async refused(refund: RefundRow, error: ApiError, claim: IdempotencyClaim | undefined): Promise<never> {
    await withTransaction(this.dataSource, async (manager) => {
      await manager.query('SELECT 1 FROM payment_intents WHERE id = $1 FOR UPDATE', [refund.payment_intent_id]);
      const rows = await updateReturning<RefundRow>(
        manager,
        `UPDATE refunds SET status = 'failed', failure = $2, updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING ${refund_columns}`,
        [refund.id, JSON.stringify(error.toEnvelope())],
      );
      if (rows[0]) {
        await manager.query('UPDATE payment_intents SET amount_refund_reserved = amount_refund_reserved - $2 WHERE id = $1', [refund.payment_intent_id, refund.amount]);
      }
      await claim?.complete(manager, error.status, error.toBody());
    });
    throw error;
  }
}

/**
 * The same Idempotency-Key again after its first answer was lost (the key
 * was released: a timeout answers 503): the refund it started is resumed,
 * never a second one made. Another body under that key is refused, as the
 * idempotency store would.
 */
async function resume(manager: EntityManager, existing: RefundRow, intent: PaymentIntentRow, body: CreateRefundBody, claim: IdempotencyClaim): Promise<Reservation> {
  const same = existing.payment_intent_id === intent.id &&
    (body.amount === undefined || body.amount.toString() === existing.amount) &&
    (body.reason ?? null) === existing.reason;
  if (!same) {
    throw new ApiError(422, 'idempotency_error', ErrorCode.idempotency_key_reused,
      'Keys for idempotent requests can only be used with the same parameters they were first used with.');
  }
  switch (existing.status) {
    case 'pending':
      return { kind: 'send', refund: existing, intent };
    case 'succeeded': {
      const refund = mapRefund(existing);
      await claim.complete(manager, 201, refund);
      return { kind: 'answered', refund };
    }
    case 'failed':
      // Stored by the idempotency interceptor, as the first answer would have been.
      throw ApiError.fromEnvelope(existing.failure) ?? ApiError.internal();
    default:
      return assertUnreachable(existing.status);
  }
}

/** The merchant's words for the refusal that matters to it; others pass as accounts gave them. */
function merchantFacing(error: ApiError): ApiError {
  if (error.code !== ErrorCode.insufficient_funds) return error;
  return ApiError.payment(ErrorCode.insufficient_funds, "The merchant's available balance cannot cover this refund.");
}

async function findRefundByKey(manager: EntityManager, merchant_id: string, key: string): Promise<RefundRow | undefined> {
  const rows: RefundRow[] = await manager.query(`SELECT ${refund_columns} FROM refunds WHERE merchant_id = $1 AND idempotency_key = $2`, [merchant_id, key]);
  return rows[0];
}

async function findRefund(manager: EntityManager, id: string): Promise<RefundRow | undefined> {
  const rows: RefundRow[] = await manager.query(`SELECT ${refund_columns} FROM refunds WHERE id = $1`, [id]);
  return rows[0];
}
