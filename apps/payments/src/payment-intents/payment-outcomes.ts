import { Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, type PaymentIntentObject } from '@paynet/contracts';
import { OutboxWriter, RpcTimeoutError, updateReturning } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
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

  /** The attempt's money moved: succeeded, with payment_intent.succeeded. */
  async recordSucceeded(manager: EntityManager, attempt: PaymentIntentRow): Promise<PaymentIntentObject | undefined> {
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET status = 'succeeded', amount_received = amount, last_payment_error = NULL
       WHERE id = $1 AND status = 'processing' AND attempt = $2 RETURNING ${intent_columns}`,
      [attempt.id, attempt.attempt],
    );
    const row = rows[0];
    if (!row) return undefined;
    const intent = mapPaymentIntent(row);
    await this.outbox.add(manager, [intentEvent('payment_intent.succeeded', intent, row.payer_account)]);
    return intent;
  }

  /** Accounts refused the attempt's command: back to requires_payment with the reason, and payment_intent.payment_failed. */
  async recordRefused(manager: EntityManager, attempt: PaymentIntentRow, refusal: ApiError): Promise<PaymentIntentObject | undefined> {
    const rows = await updateReturning<PaymentIntentRow>(
      manager,
      `UPDATE payment_intents SET status = 'requires_payment', payer_account = NULL, last_payment_error = $3
       WHERE id = $1 AND status = 'processing' AND attempt = $2 RETURNING ${intent_columns}`,
      [attempt.id, attempt.attempt, JSON.stringify({ code: refusal.code, message: refusal.message })],
    );
    const row = rows[0];
    if (!row) return undefined;
    const intent = mapPaymentIntent(row);
    // The payer is gone from the row now; the event still names who tried.
    await this.outbox.add(manager, [intentEvent('payment_intent.payment_failed', intent, attempt.payer_account)]);
    return intent;
  }
}

/**
 * A 4xx from accounts says the command was not applied (insufficient funds,
 * an account gone). Anything else (no answer in time, a 5xx) leaves the
 * outcome unknown: the command may yet apply.
 */
export function isRefusal(error: unknown): error is ApiError {
  return error instanceof ApiError && !(error instanceof RpcTimeoutError) && error.status >= 400 && error.status < 500;
}

/** What pay answers when the outcome is unknown: 503, not stored, so the same request may be sent again. */
export function ledgerUnavailable(): ApiError {
  return new ApiError(
    503,
    'api_error',
    ErrorCode.ledger_unavailable,
    'The ledger did not answer in time. The payment is processing and will be settled shortly; sending the same request again is safe.',
  );
}
