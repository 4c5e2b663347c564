import { Injectable, Logger } from '@nestjs/common';
import {
  ApiError,
  ErrorCode,
  feeMinor,
  type PaymentIntentObject,
  type PostHoldCommand,
  type PostHoldReply,
  Subjects,
  type VoidHoldCommand,
  type VoidHoldReply,
} from '@paynet/contracts';
import { type IdempotencyClaim, OutboxWriter, type Principal, RpcClient, updateReturning, withTransaction } from '@paynet/platform';
import { DataSource, type EntityManager } from 'typeorm';
import { isRefusal } from '../accounts-calls.js';
import { assertUnreachable } from '../unreachable.js';
import { findIntent, intent_columns, intentEvent, lockMerchantIntent, mapPaymentIntent, type PaymentIntentRow } from './payment-intent.js';
import { holdId, requestKeyDigest } from './attempts.js';
import { statusGuard, transition } from './transitions.js';

type MerchantPrincipal = Extract<Principal, { kind: 'merchant' }>;

/** What was sent to accounts for a held payment, as its row says: the post of a capture, or the void of a cancel. */
type HoldAction = 'post' | 'void';

/** A hold action's start: the intent as it is (nothing to send), or the row whose action to send. */
type Started = { done: PaymentIntentObject; hold?: undefined } | { done?: undefined; hold: PaymentIntentRow };

/**
 * Capture and cancel of payment intents. A step on a hold first writes down
 * what it sends (`capture_amount` for the post, `void_reason` for the void),
 * commits, then calls accounts, then records the outcome: an answer lost to a
 * timeout leaves the intent in requires_capture with that column set, and
 * sending the same command again (capture or cancel again, the reconciler
 * once `attempt_sent_at` is old enough, or the expiry sweep) settles it. Posting and voiding are idempotent by hold id.
 * The row also keeps which Idempotency-Key sent the action (hold_action_key):
 * that request re-sent once the action has settled answers the intent as it
 * left it, not 409, as pay does with attempt_key.
 */
@Injectable()
export class CaptureService {
  private readonly logger = new Logger(CaptureService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly outbox: OutboxWriter,
  ) {}

  /** Posts `amount` (default: all) of the hold to the merchant, the fee to the platform; the rest is released. */
  async capture(principal: MerchantPrincipal, id: string, amount: bigint | undefined, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    const started = await withTransaction(this.dataSource, (manager) => this.startCapture(manager, principal.merchant.merchant_id, id, amount, claim));
    return started.done ?? this.settleHold(started.hold, claim);
  }

  /** Cancels an intent awaiting payment at once; one holding money is canceled once its hold is voided. */
  async cancel(principal: MerchantPrincipal, id: string, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    const started = await withTransaction(this.dataSource, (manager) => this.startCancel(manager, principal.merchant.merchant_id, id, claim));
    return started.done ?? this.settleHold(started.hold, claim);
  }

  /**
   * Sends the hold action the row records and writes its outcome. Safe to
   * call again for the same row, from anywhere (a retried request, the
   * expiry sweep, a reconciler): accounts answers a repeated post or void
   * `already_applied`, and only one caller records the change and its event.
   */
  async settleHold(row: PaymentIntentRow, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    const action = holdAction(row);
    try {
      const reply = action === 'post'
        ? await this.rpc.request<PostHoldReply>(Subjects.accounts.holdsPost, postHoldCommand(row))
        : await this.rpc.request<VoidHoldReply>(Subjects.accounts.holdsVoid, voidHoldCommand(row));
      this.logger.log({ payment_intent: row.id, hold_id: reply.hold_id, action, result: reply.result }, 'hold settled');
    } catch (error) {
      if (!isRefusal(error) || action === 'void') throw error;
      return this.postRefused(row, error, claim);
    }
    return withTransaction(this.dataSource, (manager) => this.recordSettled(manager, row, action, claim));
  }

  private async startCapture(
    manager: EntityManager,
    merchant_id: string,
    id: string,
    amount: bigint | undefined,
    claim: IdempotencyClaim | undefined,
  ): Promise<Started> {
    const row = await lockMerchantIntent(manager, merchant_id, id);
    if (row.status === 'succeeded' && (await sentWithKey(manager, row, claim))) return { done: await answered(row, claim, manager) };
    if (!transition(row.status, 'capture').allowed || row.void_reason !== null) throw unexpectedState(row, 'captured');
    const requested = amount ?? BigInt(row.amount);
    if (requested > BigInt(row.amount)) {
      throw ApiError.badRequest(ErrorCode.amount_too_large, `amount must be at most the ${row.amount} held.`, 'amount');
    }
    if (row.capture_amount !== null) {
      // A capture whose answer was lost, or one running right now: the same post again settles it.
      if (BigInt(row.capture_amount) === requested) return { hold: row };
      throw ApiError.conflict(ErrorCode.payment_intent_unexpected_state, `A capture of ${row.capture_amount} is in progress for this payment intent.`);
    }
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET capture_amount = $2, attempt_sent_at = now(), hold_action_key = $3
       WHERE id = $1 AND ${statusGuard('capture')} RETURNING ${intent_columns}`,
      [id, requested.toString(), requestKeyDigest(claim)],
    );
    return { hold: rows[0] as PaymentIntentRow };
  }

  private async startCancel(
    manager: EntityManager,
    merchant_id: string,
    id: string,
    claim: IdempotencyClaim | undefined,
  ): Promise<Started> {
    const row = await lockMerchantIntent(manager, merchant_id, id);
    if (row.status === 'canceled' && (await sentWithKey(manager, row, claim))) return { done: await answered(row, claim, manager) };
    switch (row.status) {
      case 'requires_payment':
        return { done: await this.cancelUnpaid(manager, row, claim) };
      case 'requires_capture':
        if (row.capture_amount !== null) throw unexpectedState(row, 'canceled while a capture is in progress');
        if (row.void_reason !== null) return { hold: row };
        return { hold: await setVoidReason(manager, row.id, claim) };
      case 'processing':
      case 'succeeded':
      case 'canceled':
        throw unexpectedState(row, 'canceled');
      default:
        return assertUnreachable(row.status);
    }
  }

  private async cancelUnpaid(manager: EntityManager, row: PaymentIntentRow, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET status = 'canceled', cancellation_reason = 'requested_by_merchant' WHERE id = $1 AND ${statusGuard('cancel')} RETURNING ${intent_columns}`,
      [row.id],
    );
    const intent = mapPaymentIntent(rows[0] as PaymentIntentRow);
    await this.outbox.add(manager, [intentEvent('payment_intent.canceled', intent, null)]);
    await claim?.complete(manager, 200, intent);
    return intent;
  }

  /** The post or void was applied: the intent succeeded (captured) or is canceled, with its event; once, whoever records first. */
  private async recordSettled(manager: EntityManager, row: PaymentIntentRow, action: HoldAction, claim: IdempotencyClaim | undefined): Promise<PaymentIntentObject> {
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      action === 'post'
        ? `UPDATE payment_intents SET status = 'succeeded', amount_received = capture_amount
           WHERE id = $1 AND ${statusGuard('hold_posted')} AND capture_amount IS NOT NULL RETURNING ${intent_columns}`
        : `UPDATE payment_intents SET status = 'canceled', cancellation_reason = void_reason
           WHERE id = $1 AND ${statusGuard('hold_voided')} AND void_reason IS NOT NULL RETURNING ${intent_columns}`,
      [row.id],
    );
    const settled = rows[0] ?? ((await findIntent(manager, row.id, false)) as PaymentIntentRow);
    const intent = mapPaymentIntent(settled);
    if (rows[0]) {
      const type = action === 'post' ? 'payment_intent.succeeded' : 'payment_intent.canceled';
      await this.outbox.add(manager, [intentEvent(type, intent, settled.payer_account)]);
    }
    await claim?.complete(manager, 200, intent);
    return intent;
  }

  /**
   * accounts refused the post: the hold expired or was voided before it, so
   * it will never be posted. The capture is forgotten (the intent reads
   * canceled, expired; the expiry sweep voids and cancels it for good) and
   * the merchant hears that the intent can no longer be captured.
   */
  private async postRefused(row: PaymentIntentRow, error: ApiError, claim: IdempotencyClaim | undefined): Promise<never> {
    this.logger.warn({ payment_intent: row.id, code: error.code }, 'hold post refused');
    const answer = ApiError.conflict(ErrorCode.payment_intent_unexpected_state, `This payment intent's hold can no longer be captured (${error.code}).`);
    await withTransaction(this.dataSource, async (manager) => {
      await manager.query(`UPDATE payment_intents SET capture_amount = NULL WHERE id = $1 AND ${statusGuard('hold_post_refused')}`, [row.id]);
      await claim?.complete(manager, answer.status, answer.toBody());
    });
    throw answer;
  }
}

/** Marks the hold's void as sent, so a lost answer is settled by voiding again. */
async function setVoidReason(manager: EntityManager, id: string, claim: IdempotencyClaim | undefined): Promise<PaymentIntentRow> {
  const rows = await updateReturning<PaymentIntentRow>(
    manager,
    `UPDATE payment_intents SET void_reason = 'requested_by_merchant', attempt_sent_at = now(), hold_action_key = $2
     WHERE id = $1 AND ${statusGuard('void')} RETURNING ${intent_columns}`,
    [id, requestKeyDigest(claim)],
  );
  return rows[0] as PaymentIntentRow;
}

/** Whether this request's key sent the intent's hold action (locked row): a re-send after its answer was lost. */
async function sentWithKey(manager: EntityManager, row: PaymentIntentRow, claim: IdempotencyClaim | undefined): Promise<boolean> {
  const digest = requestKeyDigest(claim);
  if (digest === null) return false;
  const [keyed]: { hold_action_key: string | null }[] = await manager.query('SELECT hold_action_key FROM payment_intents WHERE id = $1', [row.id]);
  return keyed?.hold_action_key === digest;
}

/** The intent as its settled hold action left it, stored as the re-sent request's answer. */
async function answered(row: PaymentIntentRow, claim: IdempotencyClaim | undefined, manager: EntityManager): Promise<PaymentIntentObject> {
  const intent = mapPaymentIntent(row);
  await claim?.complete(manager, 200, intent);
  return intent;
}

function holdAction(row: PaymentIntentRow): HoldAction {
  if (row.status !== 'requires_capture') throw new Error(`intent ${row.id} is ${row.status}: no hold to settle`);
  if (row.capture_amount !== null) return 'post';
  if (row.void_reason !== null) return 'void';
  throw new Error(`intent ${row.id} has no hold action to send`);
}

/** The capture's post, rebuilt from the row: the platform fee on what is captured goes to the fee account. */
export function postHoldCommand(row: PaymentIntentRow): PostHoldCommand {
  if (row.capture_amount === null) throw new Error(`intent ${row.id} has no capture to send`);
  const amount = BigInt(row.capture_amount);
  return { hold_id: holdId(row), amount_minor: amount.toString(), fee_minor: feeMinor(amount, row.fee_bps).toString() };
}

export function voidHoldCommand(row: PaymentIntentRow): VoidHoldCommand {
  return { hold_id: holdId(row) };
}

function unexpectedState(row: PaymentIntentRow, action: string): ApiError {
  return ApiError.conflict(ErrorCode.payment_intent_unexpected_state, `This payment intent is ${row.status} and cannot be ${action}.`);
}
