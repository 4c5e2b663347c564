import { amountToJson, type Currency, type ErrorEnvelope, type PostTransferCommand, type RefundObject, type RefundStatus } from '@paynet/contracts';
import type { PaymentIntentRow } from '../payment-intents/payment-intent.js';

/** A refund as stored; `mapRefund` is the one place its wire shape is made. */
export interface RefundRow {
  id: string;
  payment_intent_id: string;
  merchant_id: string;
  idempotency_key: string;
  amount: string;
  reason: string | null;
  status: RefundStatus;
  /** The error envelope accounts refused it with. */
  failure: ErrorEnvelope | null;
  created: string;
}

export const refund_columns = `id, payment_intent_id, merchant_id, idempotency_key, amount, reason, status, failure,
  floor(extract(epoch FROM created_at))::bigint AS created`;

export function mapRefund(row: RefundRow): RefundObject {
  const refund: RefundObject = {
    id: row.id,
    object: 'refund',
    amount: amountToJson(BigInt(row.amount)),
    payment_intent: row.payment_intent_id,
    status: row.status,
    created: Number(row.created),
  };
  if (row.reason !== null) refund.reason = row.reason;
  return refund;
}

/**
 * The refund's ledger transfer, id = the refund id: the amount goes from the
 * merchant's account back to the payer. The platform fee is not returned
 * (API.md), so the merchant bears it. Rebuilt from the rows alone, so a
 * re-send is exactly the same transfer.
 */
export function refundTransfer(refund: RefundRow, intent: PaymentIntentRow): PostTransferCommand {
  if (intent.payer_account === null) throw new Error(`refund ${refund.id} of intent ${intent.id}, which has no payer`);
  return {
    transfer_id: refund.id,
    currency: intent.currency.trim() as Currency,
    description: `Refund from ${intent.merchant_name} (${intent.reference})`,
    payment_intent: intent.id,
    lines: [
      { account: intent.merchant_account_id, direction: 'debit', amount_minor: refund.amount },
      { account: intent.payer_account, direction: 'credit', amount_minor: refund.amount },
    ],
  };
}
