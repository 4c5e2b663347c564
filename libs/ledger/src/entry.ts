import {
  type AccountBalance,
  type BalanceRejection,
  type LedgerAccount,
  type Side,
  assertAccount,
  balanceRejection,
  loadedBalance,
  postedBalance,
} from './account.js';
import { assert } from './assert.js';
import {
  amount_minor_max,
  amount_minor_min,
  currency_pattern,
  entry_lines_max,
  entry_lines_min,
  id_length_max,
} from './limits.js';

export interface EntryLine {
  account_id: string;
  direction: Side;
  amount_minor: bigint;
}

/** A balanced journal entry: its debits equal its credits, all in one currency. */
export interface JournalEntry {
  id: string;
  currency: string;
  lines: EntryLine[];
}

export type EntryError =
  | 'id_invalid'
  | 'currency_invalid'
  | 'too_few_lines'
  | 'too_many_lines'
  | 'direction_invalid'
  | 'amount_invalid'
  | 'account_missing'
  | 'currency_mismatch'
  | 'debit_missing'
  | 'credit_missing'
  | 'entry_unbalanced';

export interface EntryRejection<E extends string = EntryError> {
  ok: false;
  error: E;
  account_id?: string;
  line_index?: number;
}

export type ApplyEntryError = EntryError | BalanceRejection;

/** A line as applied, with the account's posted balance (normal side) right after it. */
export interface AppliedLine extends EntryLine {
  balance_after: bigint;
}

export type ApplyEntryResult =
  | { ok: true; balances: Map<string, AccountBalance>; lines: AppliedLine[] }
  | EntryRejection<ApplyEntryError>;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= id_length_max;
}

export function isValidAmountMinor(amount_minor: unknown): amount_minor is bigint {
  return typeof amount_minor === 'bigint' && amount_minor >= amount_minor_min && amount_minor <= amount_minor_max;
}

/** Checks an entry against the rules and the accounts; touches no balance. */
export function validateEntry(
  entry: JournalEntry,
  accounts: ReadonlyMap<string, LedgerAccount>,
): { ok: true } | EntryRejection {
  if (!isValidId(entry.id)) return { ok: false, error: 'id_invalid' };
  if (!currency_pattern.test(entry.currency)) return { ok: false, error: 'currency_invalid' };
  if (entry.lines.length < entry_lines_min) return { ok: false, error: 'too_few_lines' };
  if (entry.lines.length > entry_lines_max) return { ok: false, error: 'too_many_lines' };
  for (const [line_index, line] of entry.lines.entries()) {
    const rejection = lineRejection(entry.currency, line, accounts);
    if (rejection !== null) return { ok: false, error: rejection, account_id: line.account_id, line_index };
  }
  const debits_minor = sideTotal(entry.lines, 'debit');
  const credits_minor = sideTotal(entry.lines, 'credit');
  if (debits_minor === 0n) return { ok: false, error: 'debit_missing' };
  if (credits_minor === 0n) return { ok: false, error: 'credit_missing' };
  if (debits_minor !== credits_minor) return { ok: false, error: 'entry_unbalanced' };
  return { ok: true };
}

function lineRejection(
  currency: string,
  line: EntryLine,
  accounts: ReadonlyMap<string, LedgerAccount>,
): EntryError | null {
  if (line.direction !== 'debit' && line.direction !== 'credit') return 'direction_invalid';
  if (!isValidAmountMinor(line.amount_minor)) return 'amount_invalid';
  const account = accounts.get(line.account_id);
  if (account === undefined) return 'account_missing';
  if (account.currency !== currency) return 'currency_mismatch';
  return null;
}

function sideTotal(lines: readonly EntryLine[], direction: Side): bigint {
  let total_minor = 0n;
  for (const line of lines) if (line.direction === direction) total_minor += line.amount_minor;
  return total_minor;
}

/** The balance after posting `amount_minor` on one side. Pure. */
export function withPosted(balance: AccountBalance, direction: Side, amount_minor: bigint): AccountBalance {
  return direction === 'debit'
    ? { ...balance, debits_posted: balance.debits_posted + amount_minor }
    : { ...balance, credits_posted: balance.credits_posted + amount_minor };
}

/**
 * Applies a journal entry to loaded balances, all or nothing. Returns the new
 * balance of every touched account (the inputs are not changed) and each line
 * with the balance right after it. Limits are checked after every line, in
 * line order, so no statement line ever shows a flagged account over its
 * limit. Throws only on a bug: a touched account whose balance was not loaded.
 */
export function applyEntry(
  entry: JournalEntry,
  accounts: ReadonlyMap<string, LedgerAccount>,
  balances: ReadonlyMap<string, AccountBalance>,
): ApplyEntryResult {
  const validation = validateEntry(entry, accounts);
  if (!validation.ok) return validation;
  const next = new Map<string, AccountBalance>();
  const lines: AppliedLine[] = [];
  for (const [line_index, line] of entry.lines.entries()) {
    const account = accounts.get(line.account_id) as LedgerAccount;
    assertAccount(account);
    const after = withPosted(next.get(account.id) ?? loadedBalance(balances, account.id), line.direction, line.amount_minor);
    const rejection = balanceRejection(account, after, line.direction);
    if (rejection !== null) return { ok: false, error: rejection, account_id: account.id, line_index };
    next.set(account.id, after);
    lines.push({ ...line, balance_after: postedBalance(account, after) });
  }
  assertPostedConserved(balances, next);
  return { ok: true, balances: next, lines };
}

/** Postcondition: an entry moves as much to the debit side as to the credit side. */
function assertPostedConserved(
  before: ReadonlyMap<string, AccountBalance>,
  after: ReadonlyMap<string, AccountBalance>,
): void {
  let debits_delta = 0n;
  let credits_delta = 0n;
  for (const [account_id, balance] of after) {
    const previous = before.get(account_id) as AccountBalance;
    debits_delta += balance.debits_posted - previous.debits_posted;
    credits_delta += balance.credits_posted - previous.credits_posted;
    assert(balance.debits_pending === previous.debits_pending, `entry changed pending of ${account_id}`);
    assert(balance.credits_pending === previous.credits_pending, `entry changed pending of ${account_id}`);
  }
  assert(debits_delta > 0n && debits_delta === credits_delta, 'entry did not conserve money');
}

export type EntryDifference = 'currency' | 'lines';

/**
 * Idempotency, as TigerBeetle: the same id sent again with the same content
 * is "already applied", with other content it is "exists with different
 * <field>". Comparing entries of different ids is a caller bug.
 */
export function compareEntries(
  existing: JournalEntry,
  incoming: JournalEntry,
): { same: true } | { same: false; field: EntryDifference } {
  assert(existing.id === incoming.id, `compared entries ${existing.id} and ${incoming.id}`);
  if (existing.currency !== incoming.currency) return { same: false, field: 'currency' };
  if (!sameLines(existing.lines, incoming.lines)) return { same: false, field: 'lines' };
  return { same: true };
}

function sameLines(a: readonly EntryLine[], b: readonly EntryLine[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((line, index) => {
    const other = b[index] as EntryLine;
    return (
      line.account_id === other.account_id &&
      line.direction === other.direction &&
      line.amount_minor === other.amount_minor
    );
  });
}
