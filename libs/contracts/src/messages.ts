/**
 * Request and reply bodies of the NATS commands between services. Amounts
 * travel as decimal strings (`*_minor`) because JSON cannot carry bigint;
 * parse them back with amountFromWire at the edge.
 *
 * Every command that changes money carries an id chosen by the caller and is
 * applied at most once, so a caller that timed out may send it again.
 */
import type { Currency } from './money.js';
import type { BalanceObject } from './wire.js';

// ---- accounts -------------------------------------------------------------

export type LedgerAccountKind = 'wallet' | 'merchant' | 'funding' | 'fees';

/** Creates a ledger account for a merchant; `account_id` is chosen by the caller (idempotent). */
export interface CreateLedgerAccountCommand {
  account_id: string;
  kind: 'merchant';
  currency: Currency;
  owner_name: string;
}
export interface CreateLedgerAccountReply {
  account_id: string;
  created: boolean;
}

export interface VerifyAccountTokenRequest {
  token: string;
}
export interface VerifyAccountTokenReply {
  account_id: string;
  currency: Currency;
}

export interface GetBalanceRequest {
  account_id: string;
}
export type GetBalanceReply = BalanceObject;

/**
 * Names a platform account by role instead of id; accounts resolves it to the
 * account of that role in the transfer's currency.
 */
export const PlatformAccount = {
  funding: 'platform:funding',
  fees: 'platform:fees',
} as const;

export interface TransferLine {
  /** An account id, or a PlatformAccount role. */
  account: string;
  direction: 'debit' | 'credit';
  amount_minor: string;
}

/**
 * A balanced journal entry: debits equal credits. `transfer_id` is the
 * caller's id (e.g. `pi_123:pay:1`); the same id is never applied twice.
 */
export interface PostTransferCommand {
  transfer_id: string;
  currency: Currency;
  lines: TransferLine[];
  description: string;
  payment_intent?: string;
}

export interface TransferReply {
  transfer_id: string;
  /** `applied` now, or `already_applied` earlier with the same content. */
  result: 'applied' | 'already_applied';
  created: number;
  /** Statement line ids created for each line, in order. */
  line_ids: string[];
}

export interface GetTransferRequest {
  transfer_id: string;
}
export type GetTransferReply = { found: false } | ({ found: true } & TransferReply);

// ---- merchants ------------------------------------------------------------

/** What other services know of a merchant; never a secret. */
export interface MerchantPrincipal {
  merchant_id: string;
  name: string;
  currency: Currency;
  fee_bps: number;
  account_id: string;
  webhook_url: string | null;
}

/** A signed HTTP request to check (API.md, Authentication). */
export interface AuthenticateRequest {
  api_key?: string;
  timestamp?: string;
  nonce?: string;
  signature?: string;
  method: string;
  path_with_query: string;
  /** The raw body bytes, base64. */
  body_base64: string;
}
export type AuthenticateReply = MerchantPrincipal;

export interface GetMerchantRequest {
  merchant_id: string;
}
export type GetMerchantReply = MerchantPrincipal;

export interface VerifyStreamTokenRequest {
  token: string;
}
export interface VerifyStreamTokenReply {
  merchant_id: string;
  expires_at: number;
}

/** Signs a webhook payload with the merchant's secret, which never leaves merchants. */
export interface SignWebhookRequest {
  merchant_id: string;
  msg_id: string;
  timestamp: number;
  payload: string;
}
export interface SignWebhookReply {
  url: string | null;
  signature: string;
}
