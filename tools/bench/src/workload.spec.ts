import { pickPair, randomAmount, transfer_amount_minor_max, transferCommand, type BenchAccounts } from './workload.js';

const accounts: BenchAccounts = { wallets: ['w0', 'w1', 'w2'], credit_accounts: ['c0', 'c1'] };
const sequence = (values: number[]) => {
  let index = 0;
  return () => values[index++ % values.length] as number;
};

describe('pickPair', () => {
  it('uniform: a wallet pays any other account, never itself, reaching every one', () => {
    const seen = new Map<string, Set<string>>();
    for (let from = 0; from < 3; from++) {
      for (let to = 0; to < 4; to++) {
        const pair = pickPair('uniform', accounts, sequence([(from + 0.5) / 3, (to + 0.5) / 4]));
        expect(pair.to).not.toBe(pair.from);
        seen.set(pair.from, (seen.get(pair.from) ?? new Set()).add(pair.to));
      }
    }
    expect([...seen.keys()].sort()).toEqual(['w0', 'w1', 'w2']);
    expect([...(seen.get('w1') ?? [])].sort()).toEqual(['c0', 'c1', 'w0', 'w2']);
  });

  it('hot: every transfer credits the first credit account', () => {
    for (const value of [0, 0.4, 0.999_999]) {
      expect(pickPair('hot', accounts, () => value)).toEqual({ from: expect.stringMatching(/^w/), to: 'c0' });
    }
  });

  it('stays in range at the edges of the random numbers', () => {
    expect(pickPair('uniform', accounts, () => 0)).toEqual({ from: 'w0', to: 'w1' });
    expect(pickPair('uniform', accounts, () => 0.999_999_999)).toEqual({ from: 'w2', to: 'c1' });
  });

  it('needs two wallets and a credit account', () => {
    expect(() => pickPair('uniform', { wallets: ['w0'], credit_accounts: ['c0'] }, Math.random)).toThrow(RangeError);
    expect(() => pickPair('hot', { wallets: ['w0', 'w1'], credit_accounts: [] }, Math.random)).toThrow(RangeError);
  });
});

describe('transferCommand', () => {
  it('is a balanced two-line entry: debit the payer, credit the payee, amounts as decimal strings', () => {
    expect(transferCommand('bench-1', { from: 'w0', to: 'c0' }, 42)).toEqual({
      transfer_id: 'bench-1',
      currency: 'USD',
      description: 'bench',
      lines: [
        { account: 'w0', direction: 'debit', amount_minor: '42' },
        { account: 'c0', direction: 'credit', amount_minor: '42' },
      ],
    });
  });

  it('refuses a transfer to the same account and amounts that are not positive integers', () => {
    expect(() => transferCommand('x', { from: 'w0', to: 'w0' }, 1)).toThrow(RangeError);
    expect(() => transferCommand('x', { from: 'w0', to: 'w1' }, 0)).toThrow(RangeError);
    expect(() => transferCommand('x', { from: 'w0', to: 'w1' }, 1.5)).toThrow(RangeError);
  });
});

describe('randomAmount', () => {
  it('is from 1 to the maximum, both included', () => {
    expect(randomAmount(() => 0)).toBe(1);
    expect(randomAmount(() => 0.999_999_999)).toBe(transfer_amount_minor_max);
  });
});
