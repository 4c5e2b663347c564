import {
  type AccountBalance,
  type BalanceRejection,
  type LedgerAccount,
  assertAccount,
  balanceRejection,
  loadedBalance,
  postedBalance,
} from './account.js';
import { assert } from './assert.js';
import { type AppliedLine, type EntryRejection, type JournalEntry, isValidAmountMinor, isValidId } from './entry.js';
import { currency_pattern, expires_at_max } from './limits.js';

/** What a caller asks for: hold `amount_minor` of the debit account for the credit account until `expires_at`. */
export interface HoldRequest {
  id: string;
  currency: string;
  debit_account_id: string;
  credit_account_id: string;
  amount_minor: bigint;
  /** Unix seconds; from this second on the hold can only be voided. */
  expires_at: number;
}

export type HoldState = 'pending' | 'posted' | 'voided';

/** A two-phase (pending) transfer, TigerBeetle style. */
export interface Hold extends HoldRequest {
  state: HoldState;
  /** What was moved to posted; 0 until posted, and for a voided hold. */
  posted_amount_minor: bigint;
}

export type HoldRequestError =
  | 'id_invalid'
  | 'currency_invalid'
  | 'amount_invalid'
  | 'expires_at_invalid'
  | 'accounts_must_be_different'
  | 'account_missing'
  | 'currency_mismatch';

export type ApplyHoldError = HoldRequestError | BalanceRejection;
export type HoldStateError = 'hold_already_posted' | 'hold_already_voided';
export type PostHoldError = HoldStateError | 'hold_expired' | 'amount_invalid';

export type ApplyHoldResult = { ok: true; hold: Hold; balances: Map<string, AccountBalance> } | EntryRejection<ApplyHoldError>;

export type PostHoldResult =
  | {
      ok: true;
      hold: Hold;
      balances: Map<string, AccountBalance>;
      /** The posted movement, for the journal: debit then credit of the posted amount; its id is the hold's. */
      entry: JournalEntry;
      lines: AppliedLine[];
      released_minor: bigint;
    }
  | { ok: false; error: PostHoldError };

export type VoidHoldResult =
  | { ok: true; hold: Hold; balances: Map<string, AccountBalance>; released_minor: bigint }
  | { ok: false; error: HoldStateError };

/** From `expires_at` on (inclusive) a hold is expired. */
export function isHoldExpired(hold: HoldRequest, now_seconds: number): boolean {
  return now_seconds >= hold.expires_at;
}

export function validateHoldRequest(
  request: HoldRequest,
  now_seconds: number,
  accounts: ReadonlyMap<string, LedgerAccount>,
): { ok: true } | EntryRejection<HoldRequestError> {
  if (!isValidId(request.id)) return { ok: false, error: 'id_invalid' };
  if (!currency_pattern.test(request.currency)) return { ok: false, error: 'currency_invalid' };
  if (!isValidAmountMinor(request.amount_minor)) return { ok: false, error: 'amount_invalid' };
  const expires_at_valid = Number.isSafeInteger(request.expires_at) && request.expires_at <= expires_at_max;
  if (!expires_at_valid || isHoldExpired(request, now_seconds)) return { ok: false, error: 'expires_at_invalid' };
  if (request.debit_account_id === request.credit_account_id) return { ok: false, error: 'accounts_must_be_different' };
  for (const account_id of [request.debit_account_id, request.credit_account_id]) {
    const account = accounts.get(account_id);
    if (account === undefined) return { ok: false, error: 'account_missing', account_id };
    if (account.currency !== request.currency) return { ok: false, error: 'currency_mismatch', account_id };
  }
  return { ok: true };
}

/**
 * Places a hold: the amount goes to the pending columns (debits_pending of the
 * debit account, credits_pending of the credit account), where it already
 * counts against the debit account's available balance.
 */
export function applyHold(
  request: HoldRequest,
  now_seconds: number,
  accounts: ReadonlyMap<string, LedgerAccount>,
  balances: ReadonlyMap<string, AccountBalance>,
): ApplyHoldResult {
  assert(Number.isSafeInteger(now_seconds) && now_seconds >= 0, `now_seconds ${now_seconds}`);
  const validation = validateHoldRequest(request, now_seconds, accounts);
  if (!validation.ok) return validation;
  const debit_account = accounts.get(request.debit_account_id) as LedgerAccount;
  const credit_account = accounts.get(request.credit_account_id) as LedgerAccount;
  assertAccount(debit_account);
  assertAccount(credit_account);
  const debit_before = loadedBalance(balances, debit_account.id);
  const debit_after = { ...debit_before, debits_pending: debit_before.debits_pending + request.amount_minor };
  const debit_rejection = balanceRejection(debit_account, debit_after, 'debit');
  if (debit_rejection !== null) return { ok: false, error: debit_rejection, account_id: debit_account.id };
  const credit_before = loadedBalance(balances, credit_account.id);
  const credit_after = { ...credit_before, credits_pending: credit_before.credits_pending + request.amount_minor };
  const credit_rejection = balanceRejection(credit_account, credit_after, 'credit');
  if (credit_rejection !== null) return { ok: false, error: credit_rejection, account_id: credit_account.id };
  const hold: Hold = { ...request, state: 'pending', posted_amount_minor: 0n };
  return { ok: true, hold, balances: new Map([[debit_account.id, debit_after], [credit_account.id, credit_after]]) };
}

function stateError(hold: Hold): HoldStateError | null {
  if (hold.state === 'posted') return 'hold_already_posted';
  if (hold.state === 'voided') return 'hold_already_voided';
  assert(hold.state === 'pending', `hold ${hold.id} state '${String(hold.state)}'`);
  return null;
}

/** Takes the whole held amount out of the pending columns of both accounts. */
function releasePending(hold: Hold, balances: ReadonlyMap<string, AccountBalance>): Map<string, AccountBalance> {
  const debit_before = loadedBalance(balances, hold.debit_account_id);
  const credit_before = loadedBalance(balances, hold.credit_account_id);
  // Pending columns hold at least every pending hold's amount; less is a lost hold.
  assert(debit_before.debits_pending >= hold.amount_minor, `hold ${hold.id}: debits_pending below the held amount`);
  assert(credit_before.credits_pending >= hold.amount_minor, `hold ${hold.id}: credits_pending below the held amount`);
  return new Map([
    [hold.debit_account_id, { ...debit_before, debits_pending: debit_before.debits_pending - hold.amount_minor }],
    [hold.credit_account_id, { ...credit_before, credits_pending: credit_before.credits_pending - hold.amount_minor }],
  ]);
}

/**
 * Posts `amount_minor` (1 ..= the held amount) of a pending hold and releases
 * the rest. Posting never breaks a balance limit: the debit account's
 * debits_posted + debits_pending only shrinks or stays.
 */
export function postHold(
  hold: Hold,
  amount_minor: bigint,
  now_seconds: number,
  accounts: ReadonlyMap<string, LedgerAccount>,
  balances: ReadonlyMap<string, AccountBalance>,
): PostHoldResult {
  assert(Number.isSafeInteger(now_seconds) && now_seconds >= 0, `now_seconds ${now_seconds}`);
  const state_error = stateError(hold);
  if (state_error !== null) return { ok: false, error: state_error };
  if (isHoldExpired(hold, now_seconds)) return { ok: false, error: 'hold_expired' };
  if (!isValidAmountMinor(amount_minor) || amount_minor > hold.amount_minor) return { ok: false, error: 'amount_invalid' };
  const next = releasePending(hold, balances);
  const debit_account = accountOf(accounts, hold.debit_account_id, hold.currency);
  const credit_account = accountOf(accounts, hold.credit_account_id, hold.currency);
  const debit_after = next.get(debit_account.id) as AccountBalance;
  const credit_after = next.get(credit_account.id) as AccountBalance;
  debit_after.debits_posted += amount_minor;
  credit_after.credits_posted += amount_minor;
  assert(balanceRejection(debit_account, debit_after, 'debit') === null, `posting hold ${hold.id} broke a limit`);
  assert(balanceRejection(credit_account, credit_after, 'credit') === null, `posting hold ${hold.id} broke a limit`);
  const entry: JournalEntry = {
    id: hold.id,
    currency: hold.currency,
    lines: [
      { account_id: debit_account.id, direction: 'debit', amount_minor },
      { account_id: credit_account.id, direction: 'credit', amount_minor },
    ],
  };
  const lines: AppliedLine[] = [
    { ...(entry.lines[0] as AppliedLine), balance_after: postedBalance(debit_account, debit_after) },
    { ...(entry.lines[1] as AppliedLine), balance_after: postedBalance(credit_account, credit_after) },
  ];
  const posted: Hold = { ...hold, state: 'posted', posted_amount_minor: amount_minor };
  return { ok: true, hold: posted, balances: next, entry, lines, released_minor: hold.amount_minor - amount_minor };
}

/** Releases a pending hold entirely; allowed at any time, also after expiry (that is how expiry is applied). */
export function voidHold(hold: Hold, balances: ReadonlyMap<string, AccountBalance>): VoidHoldResult {
  const state_error = stateError(hold);
  if (state_error !== null) return { ok: false, error: state_error };
  const next = releasePending(hold, balances);
  const voided: Hold = { ...hold, state: 'voided', posted_amount_minor: 0n };
  return { ok: true, hold: voided, balances: next, released_minor: hold.amount_minor };
}

function accountOf(accounts: ReadonlyMap<string, LedgerAccount>, account_id: string, currency: string): LedgerAccount {
  const account = accounts.get(account_id);
  assert(account !== undefined, `hold account ${account_id} is missing`);
  assert(account.currency === currency, `hold account ${account_id} currency`);
  return account;
}

export type HoldDifference = 'currency' | 'debit_account_id' | 'credit_account_id' | 'amount_minor' | 'expires_at';

/** Idempotency of holds, as compareEntries: the same id with the same request is "already applied". */
export function compareHolds(
  existing: HoldRequest,
  incoming: HoldRequest,
): { same: true } | { same: false; field: HoldDifference } {
  assert(existing.id === incoming.id, `compared holds ${existing.id} and ${incoming.id}`);
  const fields: HoldDifference[] = ['currency', 'debit_account_id', 'credit_account_id', 'amount_minor', 'expires_at'];
  for (const field of fields) {
    if (existing[field] !== incoming[field]) return { same: false, field };
  }
  return { same: true };
}
