import { type AccountBalance, type LedgerAccount, accountOfKind, zeroBalance } from './account.js';
import { type EntryLine, type JournalEntry, applyEntry, compareEntries, validateEntry } from './entry.js';
import { amount_minor_max, entry_lines_max } from './limits.js';

const funding = accountOfKind('funding', 'acct_funding', 'USD');
const wallet = accountOfKind('wallet', 'acct_wallet', 'USD');
const merchant = accountOfKind('merchant', 'acct_merchant', 'USD');
const fees = accountOfKind('fees', 'acct_fees', 'USD');
const yen_wallet = accountOfKind('wallet', 'acct_yen', 'JPY');
const accounts = new Map<string, LedgerAccount>([funding, wallet, merchant, fees, yen_wallet].map((a) => [a.id, a]));

const debit = (account_id: string, amount_minor: bigint): EntryLine => ({ account_id, direction: 'debit', amount_minor });
const credit = (account_id: string, amount_minor: bigint): EntryLine => ({ account_id, direction: 'credit', amount_minor });
const entry = (...lines: EntryLine[]): JournalEntry => ({ id: 'txn_1', currency: 'USD', lines });
const transfer = (from: string, to: string, amount_minor: bigint) => entry(debit(from, amount_minor), credit(to, amount_minor));

function zeroBalances(): Map<string, AccountBalance> {
  return new Map([...accounts.keys()].map((id) => [id, zeroBalance()]));
}

/** Balances after depositing `amount_minor` into the wallet from funding. */
function funded(amount_minor: bigint): Map<string, AccountBalance> {
  const balances = zeroBalances();
  const result = applyEntry(transfer(funding.id, wallet.id, amount_minor), accounts, balances);
  if (!result.ok) throw new Error(result.error);
  for (const [id, balance] of result.balances) balances.set(id, balance);
  return balances;
}

describe('journal entry validation', () => {
  it('needs at least two lines and at most entry_lines_max', () => {
    expect(validateEntry(entry(), accounts)).toEqual({ ok: false, error: 'too_few_lines' });
    expect(validateEntry(entry(debit(wallet.id, 1n)), accounts)).toEqual({ ok: false, error: 'too_few_lines' });
    expect(validateEntry(transfer(funding.id, wallet.id, 1n), accounts)).toEqual({ ok: true });
    const fifteen = Array.from({ length: entry_lines_max - 1 }, () => credit(wallet.id, 1n));
    expect(validateEntry(entry(debit(funding.id, 15n), ...fifteen), accounts)).toEqual({ ok: true });
    expect(validateEntry(entry(debit(funding.id, 16n), ...fifteen, credit(wallet.id, 1n)), accounts)).toEqual({
      ok: false,
      error: 'too_many_lines',
    });
  });

  it('accepts amounts from 1 to 1e12 minor units and nothing else', () => {
    for (const amount_minor of [1n, amount_minor_max]) {
      expect(validateEntry(transfer(funding.id, wallet.id, amount_minor), accounts)).toEqual({ ok: true });
    }
    for (const amount_minor of [0n, -1n, amount_minor_max + 1n]) {
      expect(validateEntry(transfer(funding.id, wallet.id, amount_minor), accounts)).toEqual({
        ok: false,
        error: 'amount_invalid',
        account_id: funding.id,
        line_index: 0,
      });
    }
    const float_amount = { account_id: wallet.id, direction: 'credit', amount_minor: 1 } as unknown as EntryLine;
    expect(validateEntry(entry(debit(funding.id, 1n), float_amount), accounts)).toMatchObject({ error: 'amount_invalid' });
  });

  it('refuses an entry whose debits and credits differ by even one minor unit', () => {
    expect(validateEntry(entry(debit(funding.id, 100n), credit(wallet.id, 99n)), accounts)).toEqual({
      ok: false,
      error: 'entry_unbalanced',
    });
    expect(validateEntry(entry(debit(funding.id, 100n), credit(wallet.id, 97n), credit(fees.id, 3n)), accounts)).toEqual({
      ok: true,
    });
  });

  it('needs a debit and a credit', () => {
    expect(validateEntry(entry(credit(funding.id, 1n), credit(wallet.id, 1n)), accounts)).toEqual({ ok: false, error: 'debit_missing' });
    expect(validateEntry(entry(debit(funding.id, 1n), debit(wallet.id, 1n)), accounts)).toEqual({ ok: false, error: 'credit_missing' });
  });

  it('names an account that does not exist or is in another currency', () => {
    expect(validateEntry(transfer(funding.id, 'acct_ghost', 5n), accounts)).toEqual({
      ok: false,
      error: 'account_missing',
      account_id: 'acct_ghost',
      line_index: 1,
    });
    expect(validateEntry(transfer(funding.id, yen_wallet.id, 5n), accounts)).toEqual({
      ok: false,
      error: 'currency_mismatch',
      account_id: yen_wallet.id,
      line_index: 1,
    });
  });

  it('refuses an empty or overlong id, a malformed currency and an unknown direction', () => {
    expect(validateEntry({ ...transfer(funding.id, wallet.id, 1n), id: '' }, accounts)).toEqual({ ok: false, error: 'id_invalid' });
    expect(validateEntry({ ...transfer(funding.id, wallet.id, 1n), id: 'x'.repeat(129) }, accounts)).toEqual({
      ok: false,
      error: 'id_invalid',
    });
    expect(validateEntry({ ...transfer(funding.id, wallet.id, 1n), currency: 'usd' }, accounts)).toEqual({
      ok: false,
      error: 'currency_invalid',
    });
    const sideways = { account_id: wallet.id, direction: 'sideways', amount_minor: 1n } as unknown as EntryLine;
    expect(validateEntry(entry(debit(funding.id, 1n), sideways), accounts)).toMatchObject({ error: 'direction_invalid' });
  });
});

describe('applying a journal entry', () => {
  it('moves money from the funding account, which may go negative, into a wallet', () => {
    const result = applyEntry(transfer(funding.id, wallet.id, 500n), accounts, zeroBalances());
    expect(result).toEqual({
      ok: true,
      balances: new Map([
        [funding.id, { ...zeroBalance(), debits_posted: 500n }],
        [wallet.id, { ...zeroBalance(), credits_posted: 500n }],
      ]),
      lines: [
        { account_id: funding.id, direction: 'debit', amount_minor: 500n, balance_after: -500n },
        { account_id: wallet.id, direction: 'credit', amount_minor: 500n, balance_after: 500n },
      ],
    });
  });

  it('lets a wallet pay exactly its balance, and refuses one minor unit more without changing anything', () => {
    const balances = funded(1000n);
    const before = structuredClone(balances);
    const exact = applyEntry(entry(debit(wallet.id, 1000n), credit(merchant.id, 990n), credit(fees.id, 10n)), accounts, balances);
    expect(exact.ok && exact.lines.map((line) => line.balance_after)).toEqual([0n, 990n, 10n]);
    const over = applyEntry(entry(debit(wallet.id, 1001n), credit(merchant.id, 1001n)), accounts, balances);
    expect(over).toEqual({ ok: false, error: 'insufficient_funds', account_id: wallet.id, line_index: 0 });
    expect(balances).toEqual(before);
  });

  it('counts money held by a pending payment against the wallet', () => {
    const balances = funded(1000n);
    balances.set(wallet.id, { ...(balances.get(wallet.id) as AccountBalance), debits_pending: 400n });
    expect(applyEntry(transfer(wallet.id, merchant.id, 600n), accounts, balances).ok).toBe(true);
    expect(applyEntry(transfer(wallet.id, merchant.id, 601n), accounts, balances)).toMatchObject({ error: 'insufficient_funds' });
  });

  it('reports a cumulative balance_after when an account appears on several lines', () => {
    const balances = funded(100n);
    const lines = [credit(wallet.id, 50n), debit(wallet.id, 120n), credit(merchant.id, 120n), debit(funding.id, 50n)];
    const result = applyEntry(entry(...lines), accounts, balances);
    expect(result.ok && result.lines.map((line) => line.balance_after)).toEqual([150n, 30n, 120n, -150n]);
    expect(result.ok && result.balances.get(wallet.id)).toEqual({ ...zeroBalance(), credits_posted: 150n, debits_posted: 120n });
  });

  it('checks limits after every line, so no statement line shows a wallet below zero', () => {
    const balances = funded(100n);
    const spend_first = entry(debit(wallet.id, 120n), credit(wallet.id, 50n), credit(merchant.id, 70n));
    expect(applyEntry(spend_first, accounts, balances)).toEqual({
      ok: false,
      error: 'insufficient_funds',
      account_id: wallet.id,
      line_index: 0,
    });
  });

  it('does not change the balances it was given', () => {
    const balances = funded(300n);
    const before = structuredClone(balances);
    const result = applyEntry(transfer(wallet.id, merchant.id, 200n), accounts, balances);
    expect(result.ok).toBe(true);
    expect(balances).toEqual(before);
  });

  it('refuses, as a bug, an entry touching an account whose balance was not loaded', () => {
    const balances = funded(300n);
    balances.delete(merchant.id);
    expect(() => applyEntry(transfer(wallet.id, merchant.id, 1n), accounts, balances)).toThrow(/not loaded/);
  });

  it('returns validation errors before looking at any balance', () => {
    expect(applyEntry(transfer(wallet.id, merchant.id, 0n), accounts, new Map())).toMatchObject({ error: 'amount_invalid' });
  });
});

describe('idempotency of entries', () => {
  const original = entry(debit(wallet.id, 100n), credit(merchant.id, 97n), credit(fees.id, 3n));

  it('recognises an identical re-send as the same entry', () => {
    expect(compareEntries(original, structuredClone(original))).toEqual({ same: true });
  });

  it('names the field that differs in a re-send with the same id', () => {
    expect(compareEntries(original, { ...original, currency: 'EUR' })).toEqual({ same: false, field: 'currency' });
    const changes: EntryLine[][] = [
      [debit(wallet.id, 101n), credit(merchant.id, 98n), credit(fees.id, 3n)],
      [debit(wallet.id, 100n), credit(merchant.id, 100n)],
      [debit(wallet.id, 100n), credit(fees.id, 3n), credit(merchant.id, 97n)],
      [debit(wallet.id, 100n), credit(merchant.id, 97n), debit(fees.id, 3n)],
      [debit(funding.id, 100n), credit(merchant.id, 97n), credit(fees.id, 3n)],
    ];
    for (const lines of changes) {
      expect(compareEntries(original, { ...original, lines })).toEqual({ same: false, field: 'lines' });
    }
  });

  it('treats comparing entries with different ids as a bug', () => {
    expect(() => compareEntries(original, { ...original, id: 'txn_2' })).toThrow(/compared entries/);
  });
});
