import {
  amountToJson,
  type CaptureMethod,
  type Currency,
  type EventType,
  IdPrefix,
  newId,
  type PaymentErrorObject,
  type PaymentIntentObject,
  type PaymentIntentStatus,
  type PlatformEvent,
} from '@paynet/contracts';

/** A payment intent as stored; `mapPaymentIntent` is the one place its wire shape is made. */
export interface PaymentIntentRow {
  id: string;
  merchant_id: string;
  merchant_name: string;
  merchant_account_id: string;
  fee_bps: number;
  amount: string;
  currency: string;
  reference: string;
  description: string | null;
  capture_method: CaptureMethod;
  status: PaymentIntentStatus;
  amount_received: string;
  amount_refunded: string;
  payer_account: string | null;
  last_payment_error: PaymentErrorObject | null;
  cancellation_reason: 'requested_by_merchant' | 'expired' | null;
  attempt: number;
  created: string;
  expires_at: string;
}

export const intent_columns = `id, merchant_id, merchant_name, merchant_account_id, fee_bps, amount, currency, reference, description,
  capture_method, status, amount_received, amount_refunded, payer_account, last_payment_error, cancellation_reason, attempt,
  floor(extract(epoch FROM created_at))::bigint AS created, floor(extract(epoch FROM expires_at))::bigint AS expires_at`;

/**
 * API.md: an intent awaiting payment reads canceled (expired) from the moment
 * expires_at has passed, whether or not the sweeper has written it yet.
 */
export function effectiveIntent(row: PaymentIntentRow, now_seconds: number): PaymentIntentRow {
  if (row.status === 'requires_payment' && Number(row.expires_at) <= now_seconds) {
    return { ...row, status: 'canceled', cancellation_reason: 'expired' };
  }
  return row;
}

export function mapPaymentIntent(row: PaymentIntentRow): PaymentIntentObject {
  const currency = row.currency.trim() as Currency;
  return {
    id: row.id,
    object: 'payment_intent',
    status: row.status,
    amount: amountToJson(BigInt(row.amount)),
    currency,
    merchant: row.merchant_id,
    reference: row.reference,
    description: row.description,
    capture_method: row.capture_method,
    amount_received: amountToJson(BigInt(row.amount_received)),
    amount_refunded: amountToJson(BigInt(row.amount_refunded)),
    payer_account: row.payer_account,
    last_payment_error: mapPaymentError(row.last_payment_error),
    cancellation_reason: row.cancellation_reason,
    created: Number(row.created),
    expires_at: Number(row.expires_at),
    qr_payload: qrPayload(row.id, BigInt(row.amount), currency, row.merchant_name),
  };
}

/** The stored error as answered: `rule` only on risk declines; nothing else stored leaks out. */
export function mapPaymentError(error: PaymentErrorObject | null): PaymentErrorObject | null {
  if (error === null) return null;
  return { code: error.code, message: error.message, ...(error.rule === undefined ? {} : { rule: error.rule }) };
}

/**
 * What a wallet app scans: a URI carrying the intent id, amount (minor
 * units), currency and merchant name, so it can show what is being paid.
 */
export function qrPayload(id: string, amount_minor: bigint, currency: Currency, merchant_name: string): string {
  const query = new URLSearchParams({ intent: id, amount: amount_minor.toString(), currency, merchant: merchant_name });
  return `paynet:pay?${query.toString()}`;
}

export function intentEvent(type: EventType, intent: PaymentIntentObject, account: string | null): PlatformEvent<PaymentIntentObject> {
  return {
    id: newId(IdPrefix.event),
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    merchant: intent.merchant,
    account,
    data: { object: intent },
  };
}
