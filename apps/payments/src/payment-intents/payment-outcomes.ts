import { Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, type PaymentErrorObject, type PaymentIntentObject } from '@paynet/contracts';
import { GroupCommit, type IdempotencyClaim, IdempotencyStore, OutboxWriter, SqlParameters, updateReturning } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
import { attemptOutcome } from './attempts.js';
import { statusGuard } from './transitions.js';
import { intent_columns, intentEvent, mapPaymentIntent, type PaymentIntentRow } from './payment-intent.js';

/**
 * Records how a payment attempt ended, for pay and for the reconciler alike.
 * Each step is a compare-and-set on status and attempt: whoever settles an
 * attempt first records it and its event; a second settler of the same
 * attempt (pay's own request finishing as the reconciler settles it) changes
 * nothing and gets undefined.
 */
@Injectable()
export class PaymentOutcomes {
  constructor(
    private readonly outbox: OutboxWriter,
    private readonly idempotency: IdempotencyStore,
    private readonly groupCommit: GroupCommit,
  ) {}

  /**
   * The attempt's command was applied: an automatic intent has succeeded
   * (payment_intent.succeeded), a manual one holds the money until capture
   * (payment_intent.requires_capture).
   *
   * An intent that answered 200 never reads otherwise afterwards, so this
   * also wins over a refusal recorded for the same attempt (a status back to
   * requires_payment with the attempt unchanged): accounts answers one
   * outcome per id, but if a refusal and an application of one attempt ever
   * both arrive, the money moved, and the truth is the application. The
   * payer and hold expiry the refusal cleared come back from `attempt`.
   * (A later attempt cannot have started over it: pay checks a refused
   * attempt with accounts before starting the next, see PaymentIntentsService.)
   */
  async recordApplied(manager: EntityManager, attempt: PaymentIntentRow): Promise<PaymentIntentObject | undefined> {
    const outcome = attemptOutcome(attempt);
    const parameters = new SqlParameters();
    const rows = await updateReturning<PaymentIntentRow>(manager, `${appliedUpdate(attempt, parameters)} RETURNING ${intent_columns}`, parameters.values);
    const row = rows[0];
    if (!row) return undefined;
    const intent = mapPaymentIntent(row);
    await this.outbox.add(manager, [intentEvent(outcome.event, intent, row.payer_account)]);
    return intent;
  }

  /**
   * recordApplied and pay's stored answer (`answer_status`, the intent) in
   * one statement, its own transaction (or one shared under load: GroupCommit): the intent as it will read is known
   * beforehand, since an attempt's row holds every column the outcome does
   * not set (the attempt as started, as an unpaid intent still has them:
   * nothing received, refunded, captured, voided or canceled). The statement
   * changes nothing unless the row still is so and the claim is still ours
   * (stillHeldCte); then it answers undefined, and the caller records the
   * outcome the general way (recordApplied in a transaction, which also
   * finds an attempt settled already, and a claim lost).
   */
  async recordAppliedAnswered(attempt: PaymentIntentRow, claim: IdempotencyClaim, answer_status: number): Promise<PaymentIntentObject | undefined> {
    if (!unpaidAsCreated(attempt)) return undefined;
    const outcome = attemptOutcome(attempt);
    const intent = mapPaymentIntent({
      ...attempt,
      status: outcome.status,
      last_payment_error: null,
      amount_received: outcome.status === 'succeeded' ? attempt.amount : attempt.amount_received,
    });
    const event = intentEvent(outcome.event, intent, attempt.payer_account);
    const parameters = new SqlParameters();
    // Its own transaction, or shared with other one-statement steps under load (GroupCommit), ordered by the intent they lock.
    const rows = await this.groupCommit.query<{ applied: number; answered: number }>(
      `WITH held AS (${this.idempotency.stillHeldCte(claim, parameters)}),
       applied AS (${appliedUpdate(attempt, parameters)} AND ${unpaid_as_created_sql} AND EXISTS (SELECT 1 FROM held) RETURNING id),
       ${this.outbox.insertCte([event], parameters, 'EXISTS (SELECT 1 FROM applied)')},
       answered AS (${this.idempotency.completedCte(claim, parameters, { status: answer_status, body: intent }, 'EXISTS (SELECT 1 FROM applied)')})
       SELECT (SELECT count(*)::int FROM applied) AS applied, (SELECT count(*)::int FROM answered) AS answered`,
      parameters.values,
      attempt.id,
    );
    const counts = rows[0] as { applied: number; answered: number };
    if (counts.applied !== counts.answered) throw new Error(`payment ${attempt.id}: outcome and answer recorded apart`);
    if (counts.applied === 0) return undefined;
    this.idempotency.answered(claim);
    await this.outbox.publishAfterCommit(undefined, [event]);
    return intent;
  }

  /** Accounts refused the attempt's command: back to requires_payment with the reason, and payment_intent.payment_failed. */
  async recordRefused(manager: EntityManager, attempt: PaymentIntentRow, refusal: ApiError): Promise<PaymentIntentObject | undefined> {
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET status = 'requires_payment', payer_account = NULL, hold_expires_at = NULL, last_payment_error = $3
       WHERE id = $1 AND ${statusGuard('attempt_refused')} AND attempt = $2 RETURNING ${intent_columns}`,
      [attempt.id, attempt.attempt, JSON.stringify({ code: refusal.code, message: payerFacing(refusal).message })],
    );
    const row = rows[0];
    if (!row) return undefined;
    const intent = mapPaymentIntent(row);
    // The payer is gone from the row now; the event still names who tried.
    await this.outbox.add(manager, [intentEvent('payment_intent.payment_failed', intent, attempt.payer_account)]);
    return intent;
  }

  /**
   * The risk rules declined the attempt before it began (it was rolled back:
   * the intent is still requires_payment): the reason, and payment_intent.payment_failed.
   */
  async recordDeclined(manager: EntityManager, intent_id: string, account: string, error: PaymentErrorObject): Promise<PaymentIntentObject | undefined> {
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET last_payment_error = $2 WHERE id = $1 AND ${statusGuard('risk_declined')} RETURNING ${intent_columns}`,
      [intent_id, JSON.stringify(error)],
    );
    const row = rows[0];
    if (!row) return undefined;
    const intent = mapPaymentIntent(row);
    await this.outbox.add(manager, [intentEvent('payment_intent.payment_failed', intent, account)]);
    return intent;
  }
}

/**
 * The applied attempt's UPDATE (statement text up to its WHERE, which the
 * caller may extend): status and event from attemptOutcome, the payer and
 * hold expiry from `attempt` (a refusal recorded meanwhile cleared them).
 */
function appliedUpdate(attempt: PaymentIntentRow, parameters: SqlParameters): string {
  const status = parameters.add(attemptOutcome(attempt).status);
  return `UPDATE payment_intents SET status = ${status}, last_payment_error = NULL, payer_account = ${parameters.add(attempt.payer_account)},
       hold_expires_at = to_timestamp(${parameters.add(attempt.hold_expires_at)}::bigint),
       amount_received = CASE WHEN ${status}::text = 'succeeded' THEN amount ELSE amount_received END
     WHERE id = ${parameters.add(attempt.id)} AND attempt = ${parameters.add(attempt.attempt)} AND ${statusGuard(['transfer_applied', 'hold_placed'])}`;
}

/** The columns an attempt's outcome does not set, as an intent has them before it is paid (unpaidAsCreated, in SQL). */
const unpaid_as_created_sql = `amount_received = 0 AND amount_refunded = 0 AND amount_refund_reserved = 0
       AND capture_amount IS NULL AND void_reason IS NULL AND cancellation_reason IS NULL`;

function unpaidAsCreated(row: PaymentIntentRow): boolean {
  return row.amount_received === '0' && row.amount_refunded === '0' && row.amount_refund_reserved === '0' &&
    row.capture_amount === null && row.void_reason === null && row.cancellation_reason === null;
}

/**
 * The payer's words for the refusal that matters to it (the holder reads it
 * in the answer, the merchant in last_payment_error); others pass as accounts
 * gave them, which name no account.
 */
export function payerFacing(error: ApiError): ApiError {
  if (error.code !== ErrorCode.insufficient_funds) return error;
  return ApiError.payment(ErrorCode.insufficient_funds, "The paying account's available balance cannot cover this payment.");
}
