import type { Currency, PostTransferCommand } from '@paynet/contracts';

/** The accounts a run made: funded wallets that pay, and credit accounts that only receive. */
export interface BenchAccounts {
  wallets: readonly string[];
  /** The first one is the hot account. */
  credit_accounts: readonly string[];
}

export type Shape = 'uniform' | 'hot';

export interface TransferPair {
  from: string;
  to: string;
}

export const bench_currency: Currency = 'USD';
// Small amounts against generous deposits: no transfer may fail for lack of funds.
export const transfer_amount_minor_max = 100;

/**
 * Uniform: a random wallet pays a random other account (wallet or credit
 * account), so contention is spread over all of them. Hot: a random wallet
 * pays the one hot credit account, so every transfer writes that account.
 */
export function pickPair(shape: Shape, accounts: BenchAccounts, random: () => number): TransferPair {
  if (accounts.wallets.length < 2 || accounts.credit_accounts.length < 1) throw new RangeError('need at least two wallets and one credit account');
  const from_index = pickIndex(accounts.wallets.length, random);
  const from = accounts.wallets[from_index] as string;
  if (shape === 'hot') return { from, to: accounts.credit_accounts[0] as string };
  // Every account but the payer: draw from one fewer and step over the payer's slot.
  const total = accounts.wallets.length + accounts.credit_accounts.length;
  let to_index = pickIndex(total - 1, random);
  if (to_index >= from_index) to_index += 1;
  const to = to_index < accounts.wallets.length ? accounts.wallets[to_index] : accounts.credit_accounts[to_index - accounts.wallets.length];
  return { from, to: to as string };
}

/** The accounts.transfers.post command moving `amount_minor` from `pair.from` to `pair.to`. */
export function transferCommand(transfer_id: string, pair: TransferPair, amount_minor: number): PostTransferCommand {
  if (pair.from === pair.to) throw new RangeError(`a transfer needs two accounts, got ${pair.from} twice`);
  if (!Number.isSafeInteger(amount_minor) || amount_minor < 1) throw new RangeError(`amount must be a positive integer, got ${amount_minor}`);
  const amount = String(amount_minor);
  return {
    transfer_id,
    currency: bench_currency,
    description: 'bench',
    lines: [
      { account: pair.from, direction: 'debit', amount_minor: amount },
      { account: pair.to, direction: 'credit', amount_minor: amount },
    ],
  };
}

export function randomAmount(random: () => number): number {
  return 1 + pickIndex(transfer_amount_minor_max, random);
}

function pickIndex(count: number, random: () => number): number {
  return Math.min(count - 1, Math.floor(random() * count));
}
