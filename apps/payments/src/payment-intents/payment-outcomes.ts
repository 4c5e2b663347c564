import { Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, type PaymentErrorObject, type PaymentIntentObject } from '@paynet/contracts';
import { OutboxWriter, updateReturning } from '@paynet/platform';
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
  constructor(private readonly outbox: OutboxWriter) {}

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
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET status = $3, last_payment_error = NULL, payer_account = $4, hold_expires_at = to_timestamp($5::bigint),
         amount_received = CASE WHEN $3 = 'succeeded' THEN amount ELSE amount_received END
       WHERE id = $1 AND attempt = $2 AND ${statusGuard(['transfer_applied', 'hold_placed'])} RETURNING ${intent_columns}`,
      [attempt.id, attempt.attempt, outcome.status, attempt.payer_account, attempt.hold_expires_at],
    );
    const row = rows[0];
    if (!row) return undefined;
    const intent = mapPaymentIntent(row);
    await this.outbox.add(manager, [intentEvent(outcome.event, intent, row.payer_account)]);
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
 * The payer's words for the refusal that matters to it (the holder reads it
 * in the answer, the merchant in last_payment_error); others pass as accounts
 * gave them, which name no account.
 */
export function payerFacing(error: ApiError): ApiError {
  if (error.code !== ErrorCode.insufficient_funds) return error;
  return ApiError.payment(ErrorCode.insufficient_funds, "The paying account's available balance cannot cover this payment.");
}
