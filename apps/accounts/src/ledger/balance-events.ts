import {
  type BalanceEventObject,
  type BalanceObject,
  balanceToJson,
  type Currency,
  IdPrefix,
  type JsonInteger,
  newId,
  type PlatformEvent,
} from '@paynet/contracts';
import { type AccountBalance, availableBalance, type LedgerAccount, pendingBalance, postedBalance } from '@paynet/ledger';

/**
 * `account.balance_updated` (API.md, Events): one event per wallet per change
 * of its balance (a journal entry, a hold placed, posted or voided), carrying
 * the balance right after that change, written in the change's transaction.
 * Per change and not per transaction: a batch of transfers is one transaction,
 * and a holder whose wallet two of them touched hears both steps, in the order
 * they were applied, each with the balance it left. Wallets only: merchant,
 * funding and fee accounts have no holder (merchants read their balance over
 * HTTP).
 */
export function balanceEvent(account: LedgerAccount, balance: AccountBalance): PlatformEvent<BalanceEventObject<JsonInteger>> {
  const { currency, posted, pending, available } = balanceObject(account, balance);
  return {
    id: newId(IdPrefix.event),
    object: 'event',
    type: 'account.balance_updated',
    created: Math.floor(Date.now() / 1000),
    merchant: null,
    account: account.id,
    data: { object: { object: 'balance', account: account.id, currency, posted, pending, available } },
  };
}

/** The balance object of API.md (what GET /v1/accounts/{id}/balance answers). */
export function balanceObject(account: LedgerAccount, balance: AccountBalance): BalanceObject<JsonInteger> {
  return {
    object: 'balance',
    currency: account.currency as Currency,
    posted: balanceToJson(postedBalance(account, balance)),
    pending: balanceToJson(pendingBalance(account, balance)),
    available: balanceToJson(availableBalance(account, balance)),
  };
}

/** The accounts of a change as read under their locks, with their balances before it: which of them are wallets. */
export interface WalletsOf {
  accounts: ReadonlyMap<string, LedgerAccount>;
  balances: ReadonlyMap<string, AccountBalance>;
  wallets: ReadonlySet<string>;
}

/**
 * One event per wallet among `changed` (the accounts one change moved, with
 * their balances after it) whose balance object it changed, in account-id
 * order; `before.balances` are the balances before the change. None for
 * other accounts, nor for a wallet only on the receiving end of a hold
 * (credits pending show in none of posted, pending, available).
 */
export function walletEvents(before: WalletsOf, changed: ReadonlyMap<string, AccountBalance>): PlatformEvent[] {
  const events: PlatformEvent[] = [];
  for (const id of [...changed.keys()].sort()) {
    const account = before.accounts.get(id);
    const was = before.balances.get(id);
    const now = changed.get(id) as AccountBalance;
    if (!account || !before.wallets.has(id) || (was && sameBalanceObject(account, was, now))) continue;
    events.push(balanceEvent(account, now));
  }
  return events;
}

function sameBalanceObject(account: LedgerAccount, left: AccountBalance, right: AccountBalance): boolean {
  return postedBalance(account, left) === postedBalance(account, right) && pendingBalance(account, left) === pendingBalance(account, right);
}
