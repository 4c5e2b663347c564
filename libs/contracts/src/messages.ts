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
import type { ErrorEnvelope } from './errors.js';

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
  /**
   * The id of the account token (not secret, never shown publicly): what a
   * rotation revokes (CredentialsRevoked). For a holder stream token, the
   * account token it was issued under.
   */
  credential: string;
}

/** A holder stream token checked for push (accounts.stream-tokens.verify); never a bearer for the HTTP API. */
export interface VerifyHolderStreamTokenRequest {
  token: string;
}
export interface VerifyHolderStreamTokenReply extends VerifyAccountTokenReply {
  expires_at: number;
}

/**
 * Broadcast after a credential stopped working (committed): every push
 * replica closes the streams opened under any of `credentials` (API key ids
 * for merchants, account token ids for holders) and refuses them from then
 * on; with `expires_at` (a rotation's grace), they close then.
 */
export interface CredentialsRevoked {
  credentials: string[];
  /** When they stop, Unix seconds; absent: they stopped already. */
  expires_at?: number;
}

export interface GetBalanceRequest {
  account_id: string;
}
/** A balance over NATS: its amounts as decimal strings (JSON cannot carry bigint). */
export interface GetBalanceReply extends Omit<BalanceObject, 'posted' | 'pending' | 'available'> {
  posted: string;
  pending: string;
  available: string;
}

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
/**
 * `found`: applied, with its answer. Not found with `refused`: accounts
 * refused this id (for good: every later copy gets the same refusal, so it
 * will never apply). Not found without it: never seen.
 */
export type GetTransferReply = { found: false; refused?: ErrorEnvelope } | ({ found: true; lines: TransferLine[] } & TransferReply);

// ---- accounts: holds (two-phase transfers) ---------------------------------

export type HoldState = 'pending' | 'posted' | 'voided';
/** Why a hold was voided: asked to (`requested`), or at or after its `expires_at` (`expired`). */
export type HoldVoidReason = 'requested' | 'expired';

/**
 * Holds `amount_minor` of `debit_account` for `credit_account` until
 * `expires_at` (Unix seconds): it counts against the debit account's
 * available balance at once. `hold_id` is the caller's id (e.g.
 * `pi_123:hold:1`); a re-send with the same content answers
 * `already_applied`, with other content 409 `hold_exists_with_different_fields`.
 */
export interface PlaceHoldCommand {
  hold_id: string;
  currency: Currency;
  debit_account: string;
  credit_account: string;
  amount_minor: string;
  expires_at: number;
  /** Used for the statement lines when the hold is posted. */
  description: string;
  payment_intent?: string;
}
export interface PlaceHoldReply {
  hold_id: string;
  result: 'applied' | 'already_applied';
  /** The hold's state now: a re-send after a post or void says so. */
  state: HoldState;
  amount_minor: string;
  expires_at: number;
}

/**
 * Posts `amount_minor` (1 ..= the held amount) from the debit to the credit
 * account as journal entry `hold_id`, and releases the rest. A `fee_minor`
 * above zero (at most `amount_minor`) moves on, in the same transaction,
 * from the credit account to the platform fee account as entry
 * `<hold_id>:fee`. The same post again answers the same reply, `already_applied`.
 */
export interface PostHoldCommand {
  hold_id: string;
  amount_minor: string;
  fee_minor?: string;
}
export interface PostHoldReply {
  hold_id: string;
  result: 'applied' | 'already_applied';
  state: 'posted';
  /** The amount that was held. */
  amount_minor: string;
  posted_amount_minor: string;
  /** Held but not posted: back in the debit account's available balance. */
  released_minor: string;
  fee_minor: string;
  created: number;
  /** Statement line ids of entry `hold_id`: the debit, then the credit. */
  line_ids: string[];
  /** Statement line ids of entry `<hold_id>:fee`; empty without a fee. */
  fee_line_ids: string[];
}

/** Releases a pending hold; voiding a voided hold answers `already_applied`. */
export interface VoidHoldCommand {
  hold_id: string;
}
export interface VoidHoldReply {
  hold_id: string;
  result: 'applied' | 'already_applied';
  state: 'voided';
  amount_minor: string;
  released_minor: string;
  void_reason: HoldVoidReason;
}

/** A hold as it stands, for settling a command whose answer was lost. */
export interface HoldWire {
  hold_id: string;
  currency: Currency;
  debit_account: string;
  credit_account: string;
  amount_minor: string;
  expires_at: number;
  state: HoldState;
  posted_amount_minor: string;
  fee_minor: string;
  void_reason: HoldVoidReason | null;
  description: string;
  payment_intent?: string;
  created: number;
  updated: number;
}

export interface GetHoldRequest {
  hold_id: string;
}
/** As GetTransferReply: a hold whose place was refused reads not found with its `refused` answer. */
export type GetHoldReply = { found: false; refused?: ErrorEnvelope } | ({ found: true } & HoldWire);

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
/** The key a request was signed with: `expires_at` is set while it is in a rotation's grace period (it may read, not manage credentials). */
export interface SigningKey {
  id: string;
  expires_at: number | null;
}
export type AuthenticateReply = MerchantPrincipal & { api_key: SigningKey };

export interface GetMerchantRequest {
  merchant_id: string;
}
export type GetMerchantReply = MerchantPrincipal;

export interface VerifyStreamTokenRequest {
  token: string;
}
export interface VerifyStreamTokenReply {
  merchant_id: string;
  /** The earlier of the token's expiry and that of the API key it was issued under. */
  expires_at: number;
  /** The API key the token was issued under: the stream closes when that key stops. */
  credential: string;
}

/**
 * Signs a webhook payload with every valid secret of one endpoint (the
 * current one and any in a rotation's grace), which never leave merchants.
 * Without `endpoint_id` (deliveries made before endpoints existed): the
 * merchant's first endpoint.
 */
export interface SignWebhookRequest {
  merchant_id: string;
  endpoint_id?: string;
  msg_id: string;
  timestamp: number;
  payload: string;
}
export interface SignWebhookReply {
  /** The endpoint's URL now; null when it is disabled or deleted (no more attempts). */
  url: string | null;
  /** `v1,<sig>` per valid secret, separated by spaces. */
  signature: string;
  /** When the endpoint was last enabled (Unix ms): a delivery made before then was pending while it was off. */
  enabled_since_ms?: number;
}

/** Several webhooks signed by one request (push signs what one claim took), answered in the same order. */
export interface SignWebhooksRequest {
  webhooks: SignWebhookRequest[];
}
export interface SignWebhooksReply {
  /** One per webhook asked, in order; `merchant_missing` when its merchant does not exist. */
  signed: (SignWebhookReply | { merchant_missing: true })[];
}

/** Every enabled endpoint of these merchants, with its filter: push caches them and filters each event itself. */
export interface EnabledWebhookEndpointsRequest {
  merchant_ids: string[];
}
export interface EnabledWebhookEndpoint {
  id: string;
  url: string;
  enabled_events: string[];
}
export interface EnabledWebhookEndpointsReply {
  /** One entry per merchant that exists (in no particular order); a merchant unknown to merchants is left out. */
  merchants: { merchant_id: string; endpoints: EnabledWebhookEndpoint[] }[];
}

/** Which of these endpoints are enabled, and since when (Unix ms): a delivery older than that was pending while it was off. */
export interface WebhookEndpointStatesRequest {
  merchant_id: string;
  endpoint_ids: string[];
}
export interface WebhookEndpointStatesReply {
  enabled: { id: string; enabled_since_ms: number }[];
}

/** push disables an endpoint that answered 410 or failed for days; merchants tells the merchant's stream. */
export interface DisableWebhookEndpointRequest {
  merchant_id: string;
  endpoint_id: string;
  reason: 'gone' | 'failing';
}
export interface DisableWebhookEndpointReply {
  /** False when it was already disabled or deleted. */
  disabled: boolean;
}
