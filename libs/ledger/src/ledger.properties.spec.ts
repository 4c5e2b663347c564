/**
 * Property tests: random sequences of deposits, payments, arbitrary entries,
 * holds, posts, voids, re-sends and clock ticks, run against the pure model
 * as the accounts service would (load, apply, write back). Every property
 * runs `runs_per_property` sequences of exactly `operations_per_run`
 * operations; afterAll checks the total.
 */
import fc from 'fast-check';
import {
  type AccountBalance,
  type AccountKind,
  type LedgerAccount,
  accountOfKind,
  availableBalance,
  postedBalance,
  zeroBalance,
} from './account.js';
import { type AppliedLine, type EntryLine, type JournalEntry, applyEntry, compareEntries } from './entry.js';
import { type Hold, applyHold, postHold, voidHold } from './hold.js';
import { amount_minor_max } from './limits.js';
import { verifyLedger } from './verify.js';

const runs_per_property = 250;
const operations_per_run = 100;
const operations_total_min = 100_000;
let operations_run = 0;

const currencies = ['USD', 'JPY'] as const;
const kinds: AccountKind[] = ['funding', 'fees', 'merchant', 'merchant', 'wallet', 'wallet', 'wallet'];
const hold_ttl_seconds_max = 7 * 86_400;

/** One debit-normal asset account per currency exercises the other flag. */
function bankAccount(currency: string): LedgerAccount {
  return {
    id: `bank_${currency}`,
    currency,
    normal_side: 'debit',
    flags: { debits_must_not_exceed_credits: false, credits_must_not_exceed_debits: true },
  };
}

const accounts_per_currency = kinds.length + 1;
const all_accounts: LedgerAccount[] = currencies.flatMap((currency) => [
  ...kinds.map((kind, index) => accountOfKind(kind, `${kind}_${currency}_${index}`, currency)),
  bankAccount(currency),
]);
const accounts = new Map(all_accounts.map((account) => [account.id, account]));
const accountAt = (currency_index: number, account_index: number): LedgerAccount =>
  all_accounts[currency_index * accounts_per_currency + (account_index % accounts_per_currency)] as LedgerAccount;

// ---- operations -------------------------------------------------------------

type Operation =
  | { kind: 'deposit'; currency_index: number; account_index: number; amount_minor: bigint }
  | { kind: 'entry'; currency_index: number; debits: [number, bigint][]; credit_indexes: number[] }
  | { kind: 'raw_entry'; currency_index: number; lines: [number, boolean, bigint][] }
  | { kind: 'hold'; currency_index: number; from_index: number; to_index: number; amount_minor: bigint; ttl_seconds: number }
  | { kind: 'post'; hold_pick: number; amount_pick: bigint }
  | { kind: 'void'; hold_pick: number }
  | { kind: 'resend'; entry_pick: number; mutate: boolean }
  | { kind: 'tick'; seconds: number };

const amount = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: 5_000n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: amount_minor_max }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, amount_minor_max, amount_minor_max + 1n) },
);
const currency_index = fc.nat({ max: currencies.length - 1 });
const account_index = fc.nat({ max: accounts_per_currency - 1 });

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('deposit' as const), currency_index, account_index: fc.integer({ min: 4, max: 6 }), amount_minor: amount }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('entry' as const),
      currency_index,
      debits: fc.array(fc.tuple(account_index, amount), { minLength: 1, maxLength: 3 }),
      credit_indexes: fc.array(account_index, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw_entry' as const),
      currency_index,
      lines: fc.array(fc.tuple(account_index, fc.boolean(), amount), { minLength: 0, maxLength: 18 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      currency_index,
      from_index: account_index,
      to_index: account_index,
      amount_minor: amount,
      ttl_seconds: fc.integer({ min: 0, max: hold_ttl_seconds_max }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('post' as const), hold_pick: fc.nat(), amount_pick: fc.bigInt({ min: 0n, max: 1n << 40n }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), hold_pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resend' as const), entry_pick: fc.nat(), mutate: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 0, max: 2 * 86_400 }) }) },
);
const operations = fc.array(operation, { minLength: operations_per_run, maxLength: operations_per_run });

// ---- the book: what the accounts service would persist ----------------------

/** What an operation did, for the property to judge. */
type Outcome =
  | { kind: 'applied'; lines: AppliedLine[] }
  | { kind: 'rejected'; error: string; account_id?: string; line_index?: number; attempted?: JournalEntry }
  | { kind: 'held'; hold: Hold; available_before: bigint }
  | { kind: 'hold_rejected'; error: string; request_amount_minor: bigint; available_before: bigint }
  | { kind: 'settled'; before: Hold; after: Hold | null; error?: string; posted_minor: bigint; released_minor: bigint }
  | { kind: 'resent'; same: boolean; mutated: boolean }
  | { kind: 'none' };

class Book {
  readonly balances = new Map<string, AccountBalance>(all_accounts.map((account) => [account.id, zeroBalance()]));
  readonly entries: JournalEntry[] = [];
  readonly entries_by_id = new Map<string, JournalEntry>();
  readonly holds: Hold[] = [];
  /** Posted columns recomputed from the applied lines alone. */
  readonly line_sums = new Map<string, { debits: bigint; credits: bigint }>();
  now_seconds = 1_700_000_000;
  private next_id = 0;

  run(op: Operation): Outcome {
    operations_run += 1;
    switch (op.kind) {
      case 'deposit':
        return this.entry(this.depositEntry(op.currency_index, op.account_index, op.amount_minor));
      case 'entry':
        return this.entry(this.balancedEntry(op.currency_index, op.debits, op.credit_indexes));
      case 'raw_entry':
        return this.entry(this.newEntry(op.currency_index, op.lines.map(([index, is_debit, amount_minor]) => this.line(op.currency_index, index, is_debit, amount_minor))));
      case 'hold':
        return this.hold(op);
      case 'post':
      case 'void':
        return this.settle(op);
      case 'resend':
        return this.resend(op.entry_pick, op.mutate);
      case 'tick':
        this.now_seconds += op.seconds;
        return { kind: 'none' };
    }
  }

  private line(currency_index: number, index: number, is_debit: boolean, amount_minor: bigint): EntryLine {
    return { account_id: accountAt(currency_index, index).id, direction: is_debit ? 'debit' : 'credit', amount_minor };
  }

  private newEntry(currency_index: number, lines: EntryLine[]): JournalEntry {
    this.next_id += 1;
    return { id: `txn_${this.next_id}`, currency: currencies[currency_index] as string, lines };
  }

  private depositEntry(currency_index: number, index: number, amount_minor: bigint): JournalEntry {
    return this.newEntry(currency_index, [this.line(currency_index, 0, true, amount_minor), this.line(currency_index, index, false, amount_minor)]);
  }

  /** Debits as given; their total split over the credit accounts (a part may be zero, and so rejected). */
  private balancedEntry(currency_index: number, debits: [number, bigint][], credit_indexes: number[]): JournalEntry {
    const total_minor = debits.reduce((sum, [, amount_minor]) => sum + amount_minor, 0n);
    const part_minor = total_minor / BigInt(credit_indexes.length);
    const first_minor = total_minor - part_minor * BigInt(credit_indexes.length - 1);
    const lines = debits.map(([index, amount_minor]) => this.line(currency_index, index, true, amount_minor));
    credit_indexes.forEach((index, position) => lines.push(this.line(currency_index, index, false, position === 0 ? first_minor : part_minor)));
    return this.newEntry(currency_index, lines);
  }

  private entry(entry: JournalEntry): Outcome {
    const result = applyEntry(entry, accounts, this.balances);
    if (!result.ok) return { kind: 'rejected', error: result.error, account_id: result.account_id, line_index: result.line_index, attempted: entry };
    this.write(result.balances);
    this.record(entry);
    return { kind: 'applied', lines: result.lines };
  }

  private record(entry: JournalEntry): void {
    this.entries.push(entry);
    this.entries_by_id.set(entry.id, entry);
    for (const line of entry.lines) {
      const sums = this.line_sums.get(line.account_id) ?? { debits: 0n, credits: 0n };
      if (line.direction === 'debit') sums.debits += line.amount_minor;
      else sums.credits += line.amount_minor;
      this.line_sums.set(line.account_id, sums);
    }
  }

  private write(changes: ReadonlyMap<string, AccountBalance>): void {
    for (const [account_id, balance] of changes) this.balances.set(account_id, balance);
  }

  private hold(op: Extract<Operation, { kind: 'hold' }>): Outcome {
    const from = accountAt(op.currency_index, op.from_index);
    const to = accountAt(op.currency_index, op.to_index);
    const available_before = availableBalance(from, this.balances.get(from.id) as AccountBalance);
    this.next_id += 1;
    const request = {
      id: `hold_${this.next_id}`,
      currency: from.currency,
      debit_account_id: from.id,
      credit_account_id: to.id,
      amount_minor: op.amount_minor,
      expires_at: this.now_seconds + op.ttl_seconds,
    };
    const result = applyHold(request, this.now_seconds, accounts, this.balances);
    if (!result.ok) return { kind: 'hold_rejected', error: result.error, request_amount_minor: op.amount_minor, available_before };
    this.write(result.balances);
    this.holds.push(result.hold);
    return { kind: 'held', hold: result.hold, available_before };
  }

  /** Posts or voids any hold, pending or not: settling twice must be refused. */
  private settle(op: Extract<Operation, { kind: 'post' | 'void' }>): Outcome {
    if (this.holds.length === 0) return { kind: 'none' };
    const index = op.hold_pick % this.holds.length;
    const before = this.holds[index] as Hold;
    if (op.kind === 'void') {
      const result = voidHold(before, this.balances);
      if (!result.ok) return { kind: 'settled', before, after: null, error: result.error, posted_minor: 0n, released_minor: 0n };
      this.write(result.balances);
      this.holds[index] = result.hold;
      return { kind: 'settled', before, after: result.hold, posted_minor: 0n, released_minor: result.released_minor };
    }
    // Mostly within 1..held, sometimes 0 or one over.
    const amount_minor = op.amount_pick % (before.amount_minor + 2n);
    const result = postHold(before, amount_minor, this.now_seconds, accounts, this.balances);
    if (!result.ok) return { kind: 'settled', before, after: null, error: result.error, posted_minor: amount_minor, released_minor: 0n };
    this.write(result.balances);
    this.record(result.entry);
    this.holds[index] = result.hold;
    return { kind: 'settled', before, after: result.hold, posted_minor: amount_minor, released_minor: result.released_minor };
  }

  /** A caller sends an entry id again: identical means "already applied", never a second application. */
  private resend(entry_pick: number, mutate: boolean): Outcome {
    if (this.entries.length === 0) return { kind: 'none' };
    const existing = this.entries[entry_pick % this.entries.length] as JournalEntry;
    const incoming = structuredClone(existing);
    if (mutate) (incoming.lines[0] as EntryLine).amount_minor += 1n;
    const stored = this.entries_by_id.get(incoming.id) as JournalEntry;
    const comparison = compareEntries(stored, incoming);
    return { kind: 'resent', same: comparison.same, mutated: mutate };
  }
}

// ---- invariants ------------------------------------------------------------

/** Jest's expect costs microseconds per call; millions of checks need a plain one. */
function must(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

function signedPosted(balance: AccountBalance): bigint {
  return balance.credits_posted - balance.debits_posted;
}

function assertConserved(book: Book): void {
  for (const currency of currencies) {
    let posted_minor = 0n;
    let pending_minor = 0n;
    for (const account of all_accounts.filter((a) => a.currency === currency)) {
      const balance = book.balances.get(account.id) as AccountBalance;
      posted_minor += signedPosted(balance);
      pending_minor += balance.credits_pending - balance.debits_pending;
    }
    must(posted_minor === 0n, () => `${currency}: posted balances sum to ${posted_minor}`);
    must(pending_minor === 0n, () => `${currency}: pending balances sum to ${pending_minor}`);
  }
}

function assertNoFlaggedAccountBelowZero(book: Book, outcome: Outcome): void {
  for (const account of all_accounts) {
    const balance = book.balances.get(account.id) as AccountBalance;
    if (account.flags.debits_must_not_exceed_credits) {
      must(balance.debits_posted + balance.debits_pending <= balance.credits_posted, () => `${account.id} below zero`);
      must(availableBalance(account, balance) >= 0n, () => `${account.id} available below zero`);
    }
    if (account.flags.credits_must_not_exceed_debits) {
      must(balance.credits_posted + balance.credits_pending <= balance.debits_posted, () => `${account.id} credits exceed debits`);
    }
  }
  if (outcome.kind === 'applied') {
    for (const line of outcome.lines) {
      const account = accounts.get(line.account_id) as LedgerAccount;
      if (account.flags.debits_must_not_exceed_credits || account.flags.credits_must_not_exceed_debits) {
        must(line.balance_after >= 0n, () => `${line.account_id} statement line below zero`);
      }
    }
  }
}

/** A refusal for lack of funds is real: the lines up to the refused one would indeed break the limit. */
function assertRefusalJustified(book: Book, outcome: Outcome): void {
  if (outcome.kind === 'hold_rejected' && outcome.error === 'insufficient_funds') {
    must(outcome.request_amount_minor > outcome.available_before, () => 'hold refused with money available');
  }
  if (outcome.kind !== 'rejected' || outcome.error !== 'insufficient_funds') return;
  const entry = outcome.attempted as JournalEntry;
  const account = accounts.get(outcome.account_id as string) as LedgerAccount;
  let balance = book.balances.get(account.id) as AccountBalance;
  for (const line of entry.lines.slice(0, (outcome.line_index as number) + 1)) {
    if (line.account_id !== account.id) continue;
    balance = line.direction === 'debit'
      ? { ...balance, debits_posted: balance.debits_posted + line.amount_minor }
      : { ...balance, credits_posted: balance.credits_posted + line.amount_minor };
  }
  must(availableBalance(account, balance) < 0n, () => `entry ${entry.id} refused with money available`);
}

function assertHoldArithmetic(book: Book, outcome: Outcome): void {
  for (const balance of book.balances.values()) {
    must(balance.debits_pending >= 0n && balance.credits_pending >= 0n, () => 'pending column below zero');
  }
  const pending = new Map<string, bigint>();
  for (const hold of book.holds.filter((h) => h.state === 'pending')) {
    pending.set(hold.debit_account_id, (pending.get(hold.debit_account_id) ?? 0n) + hold.amount_minor);
  }
  for (const account of all_accounts) {
    const debits_pending = (book.balances.get(account.id) as AccountBalance).debits_pending;
    must(debits_pending === (pending.get(account.id) ?? 0n), () => `${account.id} pending ${debits_pending} differs from its holds`);
  }
  if (outcome.kind !== 'settled') return;
  if (outcome.after === null) {
    const expected = outcome.before.state === 'posted' ? 'hold_already_posted' : outcome.before.state === 'voided' ? 'hold_already_voided' : undefined;
    if (expected !== undefined) must(outcome.error === expected, () => `${outcome.error} instead of ${expected}`);
    else if (book.now_seconds >= outcome.before.expires_at) must(outcome.error === 'hold_expired', () => `${outcome.error} for an expired hold`);
    else must(outcome.posted_minor === 0n || outcome.posted_minor > outcome.before.amount_minor, () => `post of ${outcome.posted_minor} refused`);
    return;
  }
  must(outcome.before.state === 'pending', () => `settled a ${outcome.before.state} hold`);
  must(outcome.posted_minor + outcome.released_minor === outcome.before.amount_minor, () => 'posted + released != held');
  must(outcome.after.posted_amount_minor === outcome.posted_minor, () => 'posted_amount_minor differs');
}

function assertRecomputable(book: Book): void {
  for (const account of all_accounts) {
    const balance = book.balances.get(account.id) as AccountBalance;
    const sums = book.line_sums.get(account.id) ?? { debits: 0n, credits: 0n };
    must(balance.debits_posted === sums.debits && balance.credits_posted === sums.credits, () => `${account.id} differs from its lines`);
  }
}

function run(sequence: Operation[], check: (book: Book, outcome: Outcome) => void): Book {
  const book = new Book();
  for (const op of sequence) check(book, book.run(op));
  return book;
}

const parameters = { numRuns: runs_per_property };

describe('ledger properties under random operations', () => {
  afterAll(() => {
    expect(operations_run).toBeGreaterThanOrEqual(operations_total_min);
  });

  it('conserves money in every currency: the signed balances of all accounts always sum to zero', () => {
    fc.assert(fc.property(operations, (sequence) => void run(sequence, (book) => assertConserved(book))), parameters);
  });

  it('never lets a wallet, merchant or fee account go below zero, holds included, nor refuses money that is there', () => {
    fc.assert(
      fc.property(operations, (sequence) => {
        run(sequence, (book, outcome) => {
          assertNoFlaggedAccountBelowZero(book, outcome);
          assertRefusalJustified(book, outcome);
        });
      }),
      parameters,
    );
  });

  it('detects every re-sent entry id: identical is the same entry, any change is a difference', () => {
    fc.assert(
      fc.property(operations, (sequence) => {
        const book = run(sequence, (_book, outcome) => {
          if (outcome.kind === 'resent') must(outcome.same === !outcome.mutated, () => 'a re-send was misjudged');
        });
        expect(new Set(book.entries.map((entry) => entry.id)).size).toBe(book.entries.length);
      }),
      parameters,
    );
  });

  it('keeps hold arithmetic exact and balances equal to a recomputation from the journal', () => {
    fc.assert(
      fc.property(operations, (sequence) => {
        const book = run(sequence, (inner, outcome) => {
          assertHoldArithmetic(inner, outcome);
          assertRecomputable(inner);
        });
        const verification = verifyLedger({ accounts, balances: book.balances, entries: book.entries, holds: book.holds });
        expect(verification.problems).toEqual([]);
        for (const account of all_accounts) {
          const balance = book.balances.get(account.id) as AccountBalance;
          expect(postedBalance(account, balance)).toBe(
            account.normal_side === 'credit' ? signedPosted(balance) : -signedPosted(balance),
          );
        }
      }),
      parameters,
    );
  });
});
