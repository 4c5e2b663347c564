import {
  amountToJson,
  ApiError,
  type CancellationReason,
  type CaptureMethod,
  type Currency,
  type EventType,
  type PaymentErrorObject,
  type PaymentIntentObject,
  type PaymentIntentStatus,
  type PlatformEvent,
} from '@paynet/contracts';
import type { Principal } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
import { newEvent } from '../events.js';

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
  cancellation_reason: CancellationReason | null;
  /** The attempt number of the transfer `<id>:pay:<attempt>` or hold `<id>:hold:<attempt>` last sent. */
  attempt: number;
  created: string;
  expires_at: string;
  /** Manual capture: the hold's expires_at (Unix seconds), fixed when the attempt starts. */
  hold_expires_at: string | null;
  /** Set before the hold's post is sent: the amount it posts. */
  capture_amount: string | null;
  /** Set before the hold's void is sent: becomes cancellation_reason once accounts answers. */
  void_reason: CancellationReason | null;
  /** Refunds sent whose outcome is not recorded yet. */
  amount_refund_reserved: string;
}

export const intent_columns = `id, merchant_id, merchant_name, merchant_account_id, fee_bps, amount, currency, reference, description,
  capture_method, status, amount_received, amount_refunded, payer_account, last_payment_error, cancellation_reason, attempt,
  floor(extract(epoch FROM created_at))::bigint AS created, floor(extract(epoch FROM expires_at))::bigint AS expires_at,
  floor(extract(epoch FROM hold_expires_at))::bigint AS hold_expires_at, capture_amount, void_reason, amount_refund_reserved`;

/**
 * API.md: an intent awaiting payment reads canceled (expired) from the moment
 * expires_at has passed, whether or not the sweeper has written it yet. So
 * does an uncaptured hold past its expiry (accounts refuses to post it from
 * then on), unless a capture or void was sent: its outcome decides. One
 * table for both readers, effectiveIntent (JS) and effective_status_sql.
 */
const expiries = [
  { status: 'requires_payment', deadline: 'expires_at', unset: [] },
  { status: 'requires_capture', deadline: 'hold_expires_at', unset: ['capture_amount', 'void_reason'] },
] as const satisfies readonly { status: PaymentIntentStatus; deadline: keyof PaymentIntentRow; unset: readonly (keyof PaymentIntentRow)[] }[];

export function effectiveIntent(row: PaymentIntentRow, now_seconds: number): PaymentIntentRow {
  const expired = expiries.some((rule) => {
    const deadline = row[rule.deadline];
    return row.status === rule.status && rule.unset.every((column) => row[column] === null) && deadline !== null && Number(deadline) <= now_seconds;
  });
  return expired ? { ...row, status: 'canceled', cancellation_reason: 'expired' } : row;
}

/** The status as a reader sees it, in SQL (see effectiveIntent). */
export const effective_status_sql = `CASE
${expiries.map((rule) => `  WHEN status = '${rule.status}'${rule.unset.map((column) => ` AND ${column} IS NULL`).join('')} AND ${rule.deadline} <= now() THEN 'canceled'`).join('\n')}
  ELSE status END`;

export async function findIntent(manager: EntityManager, id: string, lock: boolean): Promise<PaymentIntentRow | undefined> {
  const rows: PaymentIntentRow[] = await manager.query(`SELECT ${intent_columns} FROM payment_intents WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0];
}

/** Locks the merchant's own intent, as it reads now; another merchant's does not exist for it. */
export async function lockMerchantIntent(manager: EntityManager, merchant_id: string, id: string): Promise<PaymentIntentRow> {
  const row = await findIntent(manager, id, true);
  if (!row || row.merchant_id !== merchant_id) throw ApiError.notFound('payment_intent', id);
  return effectiveIntent(row, Math.floor(Date.now() / 1000));
}

/** The owning merchant, or the holder who paid it; to anyone else it does not exist. */
export function canSee(principal: Principal, row: PaymentIntentRow): boolean {
  switch (principal.kind) {
    case 'operator':
      return true;
    case 'merchant':
      return principal.merchant.merchant_id === row.merchant_id;
    case 'holder':
      return row.payer_account === principal.account_id;
  }
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
  return newEvent(type, intent, intent.merchant, account);
}

/** What a statement line says of a payment (the pay transfer and the hold alike). */
export function paymentDescription(row: PaymentIntentRow): string {
  return `Payment to ${row.merchant_name} (${row.reference})`;
}
