import { assert } from './assert.js';
import { balance_column_max, currency_pattern, id_length_max } from './limits.js';

export type Side = 'debit' | 'credit';

/** TigerBeetle's balance constraints; at most one of them may be set. */
export interface AccountFlags {
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
}

export interface LedgerAccount {
  id: string;
  currency: string;
  /** The side on which the account's balance grows: credit for liabilities (wallets, merchants). */
  normal_side: Side;
  flags: AccountFlags;
}

/** The four columns of a balance row, each a running sum, never negative. */
export interface AccountBalance {
  debits_posted: bigint;
  credits_posted: bigint;
  debits_pending: bigint;
  credits_pending: bigint;
}

export type AccountKind = 'wallet' | 'merchant' | 'fees' | 'funding';

const no_flags: AccountFlags = { debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: false };
const never_negative: AccountFlags = { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: false };

/**
 * The platform's account kinds. All are liabilities (credit-normal); every one
 * but funding must never go below zero. Funding is where deposits come from,
 * so it goes negative by exactly the money that entered the platform.
 */
export function accountOfKind(kind: AccountKind, id: string, currency: string): LedgerAccount {
  const flags = kind === 'funding' ? no_flags : never_negative;
  const account: LedgerAccount = { id, currency, normal_side: 'credit', flags: { ...flags } };
  assertAccount(account);
  return account;
}

export function zeroBalance(): AccountBalance {
  return { debits_posted: 0n, credits_posted: 0n, debits_pending: 0n, credits_pending: 0n };
}

/** Posted balance on the account's normal side: credits - debits for a credit-normal account. */
export function postedBalance(account: LedgerAccount, balance: AccountBalance): bigint {
  return account.normal_side === 'credit'
    ? balance.credits_posted - balance.debits_posted
    : balance.debits_posted - balance.credits_posted;
}

/** Money held against the normal side by pending holds: debits_pending for a credit-normal account. */
export function pendingBalance(account: LedgerAccount, balance: AccountBalance): bigint {
  return account.normal_side === 'credit' ? balance.debits_pending : balance.credits_pending;
}

/** What can still be spent: posted - pending. */
export function availableBalance(account: LedgerAccount, balance: AccountBalance): bigint {
  return postedBalance(account, balance) - pendingBalance(account, balance);
}

export type BalanceRejection = 'insufficient_funds' | 'credits_exceed_debits' | 'balance_overflow';

/**
 * Why a balance that was just moved on `side` may not be written, or null.
 * Only the constraint of that side is checked (as TigerBeetle does): a credit
 * never makes a debits_must_not_exceed_credits account worse. Pending debits
 * count against the account, so held money cannot be spent twice.
 */
export function balanceRejection(account: LedgerAccount, balance: AccountBalance, side: Side): BalanceRejection | null {
  const debits = balance.debits_posted + balance.debits_pending;
  const credits = balance.credits_posted + balance.credits_pending;
  if (side === 'debit') {
    if (balance.debits_posted > balance_column_max || debits > balance_column_max) return 'balance_overflow';
    if (account.flags.debits_must_not_exceed_credits && debits > balance.credits_posted) return 'insufficient_funds';
  } else {
    if (balance.credits_posted > balance_column_max || credits > balance_column_max) return 'balance_overflow';
    if (account.flags.credits_must_not_exceed_debits && credits > balance.debits_posted) return 'credits_exceed_debits';
  }
  return null;
}

export function assertAccount(account: LedgerAccount): void {
  assert(account.id.length > 0 && account.id.length <= id_length_max, `account id length: '${account.id}'`);
  assert(currency_pattern.test(account.currency), `account ${account.id} currency '${account.currency}'`);
  assert(account.normal_side === 'debit' || account.normal_side === 'credit', `account ${account.id} normal_side`);
  assert(
    !(account.flags.debits_must_not_exceed_credits && account.flags.credits_must_not_exceed_debits),
    `account ${account.id} has both balance flags`,
  );
}

export function assertBalance(account_id: string, balance: AccountBalance): void {
  for (const column of [balance.debits_posted, balance.credits_posted, balance.debits_pending, balance.credits_pending]) {
    assert(typeof column === 'bigint', `account ${account_id}: balance column is not a bigint`);
    assert(column >= 0n && column <= balance_column_max, `account ${account_id}: balance column ${column} out of range`);
  }
}

/** The balance of an account the caller must have loaded: a missing row would be written back as zero. */
export function loadedBalance(balances: ReadonlyMap<string, AccountBalance>, account_id: string): AccountBalance {
  const balance = balances.get(account_id);
  assert(balance !== undefined, `balance of account ${account_id} was not loaded`);
  assertBalance(account_id, balance);
  return balance;
}
