import { type AccountBalance, type LedgerAccount, accountOfKind, availableBalance, zeroBalance } from './account.js';
import { type JournalEntry, applyEntry } from './entry.js';
import { type Hold, type HoldRequest, applyHold, compareHolds, isHoldExpired, postHold, voidHold } from './hold.js';
import { amount_minor_max } from './limits.js';

const now_seconds = 1_732_300_000;
const funding = accountOfKind('funding', 'acct_funding', 'USD');
const wallet = accountOfKind('wallet', 'acct_wallet', 'USD');
const merchant = accountOfKind('merchant', 'acct_merchant', 'USD');
const yen_merchant = accountOfKind('merchant', 'acct_yen', 'JPY');
const accounts = new Map<string, LedgerAccount>([funding, wallet, merchant, yen_merchant].map((a) => [a.id, a]));

const request = (amount_minor: bigint, changes: Partial<HoldRequest> = {}): HoldRequest => ({
  id: 'pi_1:hold',
  currency: 'USD',
  debit_account_id: wallet.id,
  credit_account_id: merchant.id,
  amount_minor,
  expires_at: now_seconds + 604_800,
  ...changes,
});

function merged(balances: Map<string, AccountBalance>, changes: Map<string, AccountBalance>): Map<string, AccountBalance> {
  return new Map([...balances, ...changes]);
}

/** A wallet holding `amount_minor`, deposited from funding. */
function funded(amount_minor: bigint): Map<string, AccountBalance> {
  const balances = new Map([...accounts.keys()].map((id) => [id, zeroBalance()]));
  const deposit: JournalEntry = {
    id: 'txn_deposit',
    currency: 'USD',
    lines: [
      { account_id: funding.id, direction: 'debit', amount_minor },
      { account_id: wallet.id, direction: 'credit', amount_minor },
    ],
  };
  const result = applyEntry(deposit, accounts, balances);
  if (!result.ok) throw new Error(result.error);
  return merged(balances, result.balances);
}

function held(deposit_minor: bigint, hold_minor: bigint): { hold: Hold; balances: Map<string, AccountBalance> } {
  const balances = funded(deposit_minor);
  const result = applyHold(request(hold_minor), now_seconds, accounts, balances);
  if (!result.ok) throw new Error(result.error);
  return { hold: result.hold, balances: merged(balances, result.balances) };
}

const balanceOf = (balances: Map<string, AccountBalance>, id: string) => balances.get(id) as AccountBalance;

describe('placing a hold', () => {
  it('holds money in the pending columns, where it no longer counts as available', () => {
    const { hold, balances } = held(1000n, 300n);
    expect(hold.state).toBe('pending');
    expect(hold.posted_amount_minor).toBe(0n);
    expect(balanceOf(balances, wallet.id)).toEqual({ ...zeroBalance(), credits_posted: 1000n, debits_pending: 300n });
    expect(balanceOf(balances, merchant.id)).toEqual({ ...zeroBalance(), credits_pending: 300n });
    expect(availableBalance(wallet, balanceOf(balances, wallet.id))).toBe(700n);
  });

  it('holds exactly the available balance, and refuses one minor unit more', () => {
    const balances = funded(1000n);
    expect(applyHold(request(1000n), now_seconds, accounts, balances).ok).toBe(true);
    expect(applyHold(request(1001n), now_seconds, accounts, balances)).toEqual({
      ok: false,
      error: 'insufficient_funds',
      account_id: wallet.id,
    });
  });

  it('cannot spend the same money twice through two holds', () => {
    const { balances } = held(1000n, 600n);
    expect(applyHold(request(400n, { id: 'pi_2:hold' }), now_seconds, accounts, balances).ok).toBe(true);
    expect(applyHold(request(401n, { id: 'pi_2:hold' }), now_seconds, accounts, balances)).toMatchObject({
      error: 'insufficient_funds',
    });
  });

  it('refuses bad requests as values', () => {
    const balances = funded(amount_minor_max);
    const cases: [Partial<HoldRequest>, bigint, string][] = [
      [{}, 0n, 'amount_invalid'],
      [{}, amount_minor_max + 1n, 'amount_invalid'],
      [{ id: '' }, 1n, 'id_invalid'],
      [{ currency: 'US' }, 1n, 'currency_invalid'],
      [{ expires_at: now_seconds }, 1n, 'expires_at_invalid'],
      [{ expires_at: 1.5 }, 1n, 'expires_at_invalid'],
      [{ credit_account_id: wallet.id }, 1n, 'accounts_must_be_different'],
      [{ credit_account_id: 'acct_ghost' }, 1n, 'account_missing'],
      [{ credit_account_id: yen_merchant.id }, 1n, 'currency_mismatch'],
    ];
    for (const [changes, amount_minor, error] of cases) {
      expect(applyHold(request(amount_minor, changes), now_seconds, accounts, balances)).toMatchObject({ ok: false, error });
    }
    expect(applyHold(request(amount_minor_max), now_seconds, accounts, balances).ok).toBe(true);
    expect(applyHold(request(1n, { expires_at: now_seconds + 1 }), now_seconds, accounts, balances).ok).toBe(true);
  });
});

describe('posting a hold', () => {
  it('moves the whole held amount to posted', () => {
    const { hold, balances } = held(1000n, 300n);
    const result = postHold(hold, 300n, now_seconds, accounts, balances);
    if (!result.ok) throw new Error(result.error);
    expect(result.released_minor).toBe(0n);
    expect(result.hold).toEqual({ ...hold, state: 'posted', posted_amount_minor: 300n });
    expect(result.balances.get(wallet.id)).toEqual({ ...zeroBalance(), credits_posted: 1000n, debits_posted: 300n });
    expect(result.balances.get(merchant.id)).toEqual({ ...zeroBalance(), credits_posted: 300n });
    expect(result.entry).toEqual({
      id: hold.id,
      currency: 'USD',
      lines: [
        { account_id: wallet.id, direction: 'debit', amount_minor: 300n },
        { account_id: merchant.id, direction: 'credit', amount_minor: 300n },
      ],
    });
    expect(result.lines.map((line) => line.balance_after)).toEqual([700n, 300n]);
  });

  it('posts part of a hold and releases the rest back to the wallet', () => {
    const { hold, balances } = held(1000n, 300n);
    const result = postHold(hold, 1n, now_seconds, accounts, balances);
    if (!result.ok) throw new Error(result.error);
    expect(result.released_minor).toBe(299n);
    const wallet_after = result.balances.get(wallet.id) as AccountBalance;
    expect(wallet_after).toEqual({ ...zeroBalance(), credits_posted: 1000n, debits_posted: 1n });
    expect(availableBalance(wallet, wallet_after)).toBe(999n);
  });

  it('posts between one minor unit and the held amount, nothing outside', () => {
    const { hold, balances } = held(1000n, 300n);
    expect(postHold(hold, 0n, now_seconds, accounts, balances)).toEqual({ ok: false, error: 'amount_invalid' });
    expect(postHold(hold, 301n, now_seconds, accounts, balances)).toEqual({ ok: false, error: 'amount_invalid' });
    expect(postHold(hold, 300n, now_seconds, accounts, balances).ok).toBe(true);
  });

  it('can be posted until the second before it expires, and from expires_at on only voided', () => {
    const { hold, balances } = held(1000n, 300n);
    expect(isHoldExpired(hold, hold.expires_at - 1)).toBe(false);
    expect(postHold(hold, 300n, hold.expires_at - 1, accounts, balances).ok).toBe(true);
    expect(postHold(hold, 300n, hold.expires_at, accounts, balances)).toEqual({ ok: false, error: 'hold_expired' });
    const voided = voidHold(hold, balances);
    expect(voided.ok && voided.released_minor).toBe(300n);
  });

  it('refuses to post or void a hold twice', () => {
    const { hold, balances } = held(1000n, 300n);
    const posted = postHold(hold, 200n, now_seconds, accounts, balances);
    if (!posted.ok) throw new Error(posted.error);
    const after_post = merged(balances, posted.balances);
    expect(postHold(posted.hold, 100n, now_seconds, accounts, after_post)).toEqual({ ok: false, error: 'hold_already_posted' });
    expect(voidHold(posted.hold, after_post)).toEqual({ ok: false, error: 'hold_already_posted' });
    const voided = voidHold(hold, balances);
    if (!voided.ok) throw new Error(voided.error);
    const after_void = merged(balances, voided.balances);
    expect(voidHold(voided.hold, after_void)).toEqual({ ok: false, error: 'hold_already_voided' });
    expect(postHold(voided.hold, 1n, now_seconds, accounts, after_void)).toEqual({ ok: false, error: 'hold_already_voided' });
  });
});

describe('voiding a hold', () => {
  it('gives the held money back to the wallet and takes it off the merchant', () => {
    const { hold, balances } = held(1000n, 300n);
    const result = voidHold(hold, balances);
    if (!result.ok) throw new Error(result.error);
    expect(result.hold).toEqual({ ...hold, state: 'voided', posted_amount_minor: 0n });
    expect(result.balances.get(wallet.id)).toEqual({ ...zeroBalance(), credits_posted: 1000n });
    expect(result.balances.get(merchant.id)).toEqual(zeroBalance());
  });

  it('treats a hold whose pending money is gone as a bug', () => {
    const { hold, balances } = held(1000n, 300n);
    balances.set(wallet.id, { ...balanceOf(balances, wallet.id), debits_pending: 299n });
    expect(() => voidHold(hold, balances)).toThrow(/debits_pending/);
  });
});

describe('idempotency of holds', () => {
  it('recognises an identical re-send and names the field that differs', () => {
    expect(compareHolds(request(5n), request(5n))).toEqual({ same: true });
    expect(compareHolds(request(5n), request(6n))).toEqual({ same: false, field: 'amount_minor' });
    expect(compareHolds(request(5n), request(5n, { credit_account_id: 'x' }))).toEqual({ same: false, field: 'credit_account_id' });
    expect(compareHolds(request(5n), request(5n, { expires_at: 1 }))).toEqual({ same: false, field: 'expires_at' });
    expect(() => compareHolds(request(5n), request(5n, { id: 'other' }))).toThrow(/compared holds/);
  });
});
