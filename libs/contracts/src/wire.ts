/**
 * Public wire shapes (API.md), as answered over HTTP and carried inside
 * events. Amounts here are JSON numbers: every one is bounded by 1e12 per
 * amount, so it is exact; money math happens on bigint before this point.
 * Balances are sums without a bound: a service answers them as `JsonInteger`
 * (a bigint past 2^53, written as exact digits); a client reading the JSON
 * sees numbers, the default type parameter.
 */
import type { Currency, JsonInteger } from './money.js';

export interface ListResponse<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export interface BalanceObject<Integer extends JsonInteger = number> {
  object: 'balance';
  currency: Currency;
  posted: Integer;
  pending: Integer;
  available: Integer;
}

/** The data object of `account.balance_updated`: the wallet's balance with its id (API.md, Events). */
export interface BalanceEventObject<Integer extends JsonInteger = number> {
  object: 'balance';
  account: string;
  currency: Currency;
  posted: Integer;
  pending: Integer;
  available: Integer;
}

export interface AccountObject<Integer extends JsonInteger = number> {
  id: string;
  object: 'account';
  currency: Currency;
  owner_name: string;
  created: number;
  token?: string;
  balance?: BalanceObject<Integer>;
}

export interface StatementLineObject<Integer extends JsonInteger = number> {
  id: string;
  object: 'transaction';
  amount: number;
  balance_after: Integer;
  currency: Currency;
  description: string;
  payment_intent?: string;
  created: number;
}

export interface MerchantObject {
  id: string;
  object: 'merchant';
  name: string;
  currency: Currency;
  fee_bps: number;
  webhook_url: string | null;
  created: number;
  api_key?: string;
  api_secret?: string;
  webhook_secret?: string;
}

export type PaymentIntentStatus =
  | 'requires_payment'
  | 'processing'
  | 'requires_capture'
  | 'succeeded'
  | 'canceled';

export type CaptureMethod = 'automatic' | 'manual';

/** Which risk rule declined a payment (`last_payment_error.rule`, with code `risk_declined`). */
export type RiskRule = 'max_amount' | 'velocity_count' | 'velocity_amount' | 'external' | 'external_unavailable';
/** Why an intent is canceled (API.md, payments). */
export type CancellationReason = 'requested_by_merchant' | 'expired';

export interface PaymentErrorObject {
  code: string;
  message: string;
  /** Present on risk declines only. */
  rule?: RiskRule;
}

export interface PaymentIntentObject {
  id: string;
  object: 'payment_intent';
  status: PaymentIntentStatus;
  amount: number;
  currency: Currency;
  merchant: string;
  reference: string;
  description: string | null;
  capture_method: CaptureMethod;
  amount_received: number;
  amount_refunded: number;
  payer_account: string | null;
  last_payment_error: PaymentErrorObject | null;
  cancellation_reason: CancellationReason | null;
  created: number;
  expires_at: number;
  qr_payload: string;
}

/**
 * A refund's life: `pending` while its ledger transfer's outcome is not yet
 * known, then `succeeded`, or `failed` when accounts refused it (nothing moved).
 * The API answers only succeeded refunds.
 */
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

/** API.md, payments: `POST /v1/payment-intents/{id}/refunds`. */
export interface RefundObject {
  id: string;
  object: 'refund';
  amount: number;
  payment_intent: string;
  status: RefundStatus;
  created: number;
  /** Present when the merchant gave one (as Stripe does). */
  reason?: string;
}

export interface StreamTokenObject {
  object: 'stream_token';
  token: string;
  expires_at: number;
}

/** API.md, merchants: webhook endpoints. `secret` only on creation and rotation. */
export interface WebhookEndpointObject {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  enabled_events: string[];
  description: string | null;
  status: 'enabled' | 'disabled';
  created: number;
  secret?: string;
}

/** API.md, push: webhooks. */
export interface WebhookDeliveryObject {
  id: string;
  event: string;
  url: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  last_status_code: number | null;
  next_attempt_at: number | null;
}
