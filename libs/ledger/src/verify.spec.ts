import { type AccountBalance, type LedgerAccount, accountOfKind, zeroBalance } from './account.js';
import { type JournalEntry, applyEntry } from './entry.js';
import { type Hold, applyHold } from './hold.js';
import { verify_problems_max } from './limits.js';
import { LedgerRecomputation, verifyLedger } from './verify.js';

const now_seconds = 1_732_300_000;
const funding = accountOfKind('funding', 'acct_funding', 'USD');
const wallet = accountOfKind('wallet', 'acct_wallet', 'USD');
const merchant = accountOfKind('merchant', 'acct_merchant', 'USD');
const yen_funding = accountOfKind('funding', 'acct_yen_funding', 'JPY');
const accounts = new Map<string, LedgerAccount>([funding, wallet, merchant, yen_funding].map((a) => [a.id, a]));

const transfer = (id: string, from: string, to: string, amount_minor: bigint, currency = 'USD'): JournalEntry => ({
  id,
  currency,
  lines: [
    { account_id: from, direction: 'debit', amount_minor },
    { account_id: to, direction: 'credit', amount_minor },
  ],
});

/** A small consistent ledger: a deposit, a payment and a pending hold. */
function ledger(): { balances: Map<string, AccountBalance>; entries: JournalEntry[]; holds: Hold[] } {
  const balances = new Map([...accounts.keys()].map((id) => [id, zeroBalance()]));
  const entries = [transfer('txn_1', funding.id, wallet.id, 1000n), transfer('txn_2', wallet.id, merchant.id, 300n)];
  for (const entry of entries) {
    const result = applyEntry(entry, accounts, balances);
    if (!result.ok) throw new Error(result.error);
    for (const [id, balance] of result.balances) balances.set(id, balance);
  }
  const hold_request = {
    id: 'hold_1',
    currency: 'USD',
    debit_account_id: wallet.id,
    credit_account_id: merchant.id,
    amount_minor: 200n,
    expires_at: now_seconds + 60,
  };
  const held = applyHold(hold_request, now_seconds, accounts, balances);
  if (!held.ok) throw new Error(held.error);
  for (const [id, balance] of held.balances) balances.set(id, balance);
  return { balances, entries, holds: [held.hold] };
}

const setColumn = (balances: Map<string, AccountBalance>, id: string, column: keyof AccountBalance, value: bigint) =>
  balances.set(id, { ...(balances.get(id) as AccountBalance), [column]: value });

describe('verifying the ledger', () => {
  it('finds no problem in a ledger built by the model', () => {
    expect(verifyLedger({ accounts, ...ledger() })).toEqual({ ok: true, entries_checked: 2, problems: [] });
  });

  it('names the account whose stored balance differs from its postings', () => {
    const { balances, entries, holds } = ledger();
    setColumn(balances, merchant.id, 'credits_posted', 301n);
    const result = verifyLedger({ accounts, balances, entries, holds });
    expect(result.ok).toBe(false);
    expect(result.problems).toContain('account acct_merchant: credits_posted is 301 but the journal sums to 300');
  });

  it('names an entry that does not balance', () => {
    const { balances, entries, holds } = ledger();
    const bad: JournalEntry = { ...transfer('txn_bad', funding.id, wallet.id, 5n) };
    bad.lines = [bad.lines[0] as JournalEntry['lines'][number], { account_id: wallet.id, direction: 'credit', amount_minor: 4n }];
    const result = verifyLedger({ accounts, balances, entries: [...entries, bad], holds });
    expect(result.problems).toContain('entry txn_bad: entry_unbalanced');
  });

  it('reports a wallet below zero, and money created out of nothing, per currency', () => {
    const { balances, entries, holds } = ledger();
    setColumn(balances, wallet.id, 'debits_posted', 1200n);
    const result = verifyLedger({ accounts, balances, entries, holds });
    expect(result.problems).toContain('account acct_wallet: below zero, debits 1400 exceed credits 1000');
    expect(result.problems).toContain('currency USD: posted debits 2200 != posted credits 1300');
  });

  it('checks pending columns against the holds still pending', () => {
    const { balances, entries, holds } = ledger();
    const voided = holds.map((hold) => ({ ...hold, state: 'voided' as const }));
    const result = verifyLedger({ accounts, balances, entries, holds: voided });
    expect(result.problems).toEqual([
      'account acct_wallet: debits_pending is 200 but the journal sums to 0',
      'account acct_merchant: credits_pending is 200 but the journal sums to 0',
    ]);
  });

  it('reports postings on an account that does not exist and an entry in the wrong currency', () => {
    const { balances, entries, holds } = ledger();
    const strays = [transfer('txn_ghost', funding.id, 'acct_ghost', 1n), transfer('txn_yen', yen_funding.id, wallet.id, 1n, 'JPY')];
    const result = verifyLedger({ accounts, balances, entries: [...entries, ...strays], holds });
    expect(result.problems).toEqual(
      expect.arrayContaining([
        'entry txn_ghost: account_missing (account acct_ghost)',
        'entry txn_yen: currency_mismatch (account acct_wallet)',
        'account acct_ghost: has postings or a balance but does not exist',
      ]),
    );
  });

  it('lists at most verify_problems_max problems and counts the rest', () => {
    const recomputation = new LedgerRecomputation(accounts);
    for (let index = 0; index < verify_problems_max + 5; index++) recomputation.addEntry({ id: `txn_${index}`, currency: 'USD', lines: [] });
    const result = recomputation.finish(new Map());
    expect(result.entries_checked).toBe(verify_problems_max + 5);
    expect(result.problems).toHaveLength(verify_problems_max + 1);
    expect(result.problems.at(-1)).toBe('... and 5 more problems');
  });
});
