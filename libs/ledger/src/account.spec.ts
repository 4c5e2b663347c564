import {
  type AccountBalance,
  type LedgerAccount,
  accountOfKind,
  assertAccount,
  availableBalance,
  balanceRejection,
  pendingBalance,
  postedBalance,
  zeroBalance,
} from './account.js';
import { balance_column_max } from './limits.js';

const balance = (columns: Partial<AccountBalance>): AccountBalance => ({ ...zeroBalance(), ...columns });
const asset: LedgerAccount = {
  id: 'acct_bank',
  currency: 'USD',
  normal_side: 'debit',
  flags: { debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: true },
};

describe('account kinds', () => {
  it('makes wallets, merchants and fees credit-normal accounts that may not go below zero', () => {
    for (const kind of ['wallet', 'merchant', 'fees'] as const) {
      const account = accountOfKind(kind, `acct_${kind}`, 'USD');
      expect(account.normal_side).toBe('credit');
      expect(account.flags).toEqual({ debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: false });
    }
  });

  it('lets the funding account go negative', () => {
    const funding = accountOfKind('funding', 'acct_funding', 'USD');
    expect(funding.normal_side).toBe('credit');
    expect(funding.flags).toEqual({ debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: false });
  });

  it('refuses an account with both balance flags, a bad currency or an empty id, as a bug', () => {
    const both = { ...asset, flags: { debits_must_not_exceed_credits: true, credits_must_not_exceed_debits: true } };
    expect(() => assertAccount(both)).toThrow(/both balance flags/);
    expect(() => accountOfKind('wallet', 'acct_1', 'usd')).toThrow(/currency/);
    expect(() => accountOfKind('wallet', '', 'USD')).toThrow(/id/);
  });
});

describe('balances', () => {
  const wallet = accountOfKind('wallet', 'acct_wallet', 'USD');

  it('starts at zero in every column', () => {
    expect(zeroBalance()).toEqual({ debits_posted: 0n, credits_posted: 0n, debits_pending: 0n, credits_pending: 0n });
    expect(zeroBalance()).not.toBe(zeroBalance());
  });

  it('reads a credit-normal balance as credits minus debits, with held debits as pending', () => {
    const columns = balance({ credits_posted: 1000n, debits_posted: 300n, debits_pending: 200n, credits_pending: 50n });
    expect(postedBalance(wallet, columns)).toBe(700n);
    expect(pendingBalance(wallet, columns)).toBe(200n);
    expect(availableBalance(wallet, columns)).toBe(500n);
  });

  it('reads a debit-normal balance as debits minus credits, with held credits as pending', () => {
    const columns = balance({ debits_posted: 1000n, credits_posted: 300n, credits_pending: 200n, debits_pending: 50n });
    expect(postedBalance(asset, columns)).toBe(700n);
    expect(pendingBalance(asset, columns)).toBe(200n);
    expect(availableBalance(asset, columns)).toBe(500n);
  });
});

describe('balance limits', () => {
  const wallet = accountOfKind('wallet', 'acct_wallet', 'USD');
  const funding = accountOfKind('funding', 'acct_funding', 'USD');

  it('lets a wallet spend exactly its balance, and not one minor unit more', () => {
    expect(balanceRejection(wallet, balance({ credits_posted: 100n, debits_posted: 100n }), 'debit')).toBeNull();
    expect(balanceRejection(wallet, balance({ credits_posted: 100n, debits_posted: 101n }), 'debit')).toBe('insufficient_funds');
  });

  it('counts held money against the wallet, but not pending credits for it', () => {
    expect(balanceRejection(wallet, balance({ credits_posted: 100n, debits_posted: 60n, debits_pending: 40n }), 'debit')).toBeNull();
    expect(balanceRejection(wallet, balance({ credits_posted: 100n, debits_posted: 60n, debits_pending: 41n }), 'debit')).toBe(
      'insufficient_funds',
    );
    expect(balanceRejection(wallet, balance({ credits_pending: 500n, debits_posted: 1n }), 'debit')).toBe('insufficient_funds');
  });

  it('never refuses a credit to a wallet, and lets the funding account go below zero', () => {
    expect(balanceRejection(wallet, balance({ credits_posted: 5n }), 'credit')).toBeNull();
    expect(balanceRejection(funding, balance({ debits_posted: 10n ** 15n }), 'debit')).toBeNull();
  });

  it('keeps credits of a credits_must_not_exceed_debits account within its debits', () => {
    expect(balanceRejection(asset, balance({ debits_posted: 100n, credits_posted: 100n }), 'credit')).toBeNull();
    expect(balanceRejection(asset, balance({ debits_posted: 100n, credits_posted: 60n, credits_pending: 41n }), 'credit')).toBe(
      'credits_exceed_debits',
    );
  });

  it('refuses to pass the maximum of a bigint column, and accepts exactly the maximum', () => {
    expect(balanceRejection(funding, balance({ debits_posted: balance_column_max }), 'debit')).toBeNull();
    expect(balanceRejection(funding, balance({ debits_posted: balance_column_max + 1n }), 'debit')).toBe('balance_overflow');
    expect(balanceRejection(funding, balance({ credits_posted: balance_column_max, credits_pending: 1n }), 'credit')).toBe(
      'balance_overflow',
    );
  });
});
