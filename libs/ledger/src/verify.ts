import { type AccountBalance, type LedgerAccount, zeroBalance } from './account.js';
import { type JournalEntry, validateEntry } from './entry.js';
import type { Hold } from './hold.js';
import { verify_problems_max } from './limits.js';

export interface LedgerVerification {
  ok: boolean;
  entries_checked: number;
  /** At most verify_problems_max, each naming the entry, account or currency. */
  problems: string[];
}

const columns = ['debits_posted', 'credits_posted', 'debits_pending', 'credits_pending'] as const;

/**
 * Recomputes every balance from the journal, one entry at a time, so that the
 * accounts service can stream entries in pages instead of loading them all.
 * Posted columns come from entries; pending columns from holds still pending.
 */
export class LedgerRecomputation {
  private readonly sums = new Map<string, AccountBalance>();
  private readonly problems: string[] = [];
  private problems_omitted = 0;
  private entries_checked = 0;

  constructor(private readonly accounts: ReadonlyMap<string, LedgerAccount>) {}

  addEntry(entry: JournalEntry): void {
    this.entries_checked += 1;
    const validation = validateEntry(entry, this.accounts);
    if (!validation.ok) {
      const where = validation.account_id === undefined ? '' : ` (account ${validation.account_id})`;
      this.problem(`entry ${entry.id}: ${validation.error}${where}`);
    }
    // Count what was persisted even when the entry is wrong, so balances are judged on their own.
    for (const line of entry.lines) {
      const sum = this.sumOf(line.account_id);
      if (line.direction === 'debit') sum.debits_posted += line.amount_minor;
      else sum.credits_posted += line.amount_minor;
    }
  }

  addHold(hold: Hold): void {
    for (const account_id of [hold.debit_account_id, hold.credit_account_id]) {
      const account = this.accounts.get(account_id);
      if (account === undefined) this.problem(`hold ${hold.id}: account ${account_id} is missing`);
      else if (account.currency !== hold.currency) this.problem(`hold ${hold.id}: account ${account_id} is not in ${hold.currency}`);
    }
    if (hold.state !== 'pending') return;
    this.sumOf(hold.debit_account_id).debits_pending += hold.amount_minor;
    this.sumOf(hold.credit_account_id).credits_pending += hold.amount_minor;
  }

  /** Compares the stored balances with the recomputation and checks the limits and conservation. */
  finish(balances: ReadonlyMap<string, AccountBalance>): LedgerVerification {
    for (const account_id of new Set([...balances.keys(), ...this.sums.keys()])) {
      if (!this.accounts.has(account_id)) this.problem(`account ${account_id}: has postings or a balance but does not exist`);
    }
    for (const account of this.accounts.values()) {
      const balance = balances.get(account.id) ?? zeroBalance();
      this.checkSums(account.id, balance, this.sums.get(account.id) ?? zeroBalance());
      this.checkLimits(account, balance);
    }
    this.checkConservation(balances);
    const problems = [...this.problems];
    if (this.problems_omitted > 0) problems.push(`... and ${this.problems_omitted} more problems`);
    return { ok: problems.length === 0, entries_checked: this.entries_checked, problems };
  }

  private checkSums(account_id: string, balance: AccountBalance, sums: AccountBalance): void {
    for (const column of columns) {
      if (balance[column] !== sums[column]) {
        this.problem(`account ${account_id}: ${column} is ${balance[column]} but the journal sums to ${sums[column]}`);
      }
    }
  }

  private checkLimits(account: LedgerAccount, balance: AccountBalance): void {
    const debits = balance.debits_posted + balance.debits_pending;
    const credits = balance.credits_posted + balance.credits_pending;
    if (account.flags.debits_must_not_exceed_credits && debits > balance.credits_posted) {
      this.problem(`account ${account.id}: below zero, debits ${debits} exceed credits ${balance.credits_posted}`);
    }
    if (account.flags.credits_must_not_exceed_debits && credits > balance.debits_posted) {
      this.problem(`account ${account.id}: credits ${credits} exceed debits ${balance.debits_posted}`);
    }
  }

  /** Money is only moved, never made: per currency, debits equal credits over all accounts. */
  private checkConservation(balances: ReadonlyMap<string, AccountBalance>): void {
    const totals = new Map<string, AccountBalance>();
    for (const account of this.accounts.values()) {
      const balance = balances.get(account.id) ?? zeroBalance();
      const total = totals.get(account.currency) ?? zeroBalance();
      for (const column of columns) total[column] += balance[column];
      totals.set(account.currency, total);
    }
    for (const [currency, total] of totals) {
      if (total.debits_posted !== total.credits_posted) {
        this.problem(`currency ${currency}: posted debits ${total.debits_posted} != posted credits ${total.credits_posted}`);
      }
      if (total.debits_pending !== total.credits_pending) {
        this.problem(`currency ${currency}: pending debits ${total.debits_pending} != pending credits ${total.credits_pending}`);
      }
    }
  }

  private sumOf(account_id: string): AccountBalance {
    let sum = this.sums.get(account_id);
    if (sum === undefined) {
      sum = zeroBalance();
      this.sums.set(account_id, sum);
    }
    return sum;
  }

  private problem(text: string): void {
    if (this.problems.length < verify_problems_max) this.problems.push(text);
    else this.problems_omitted += 1;
  }
}

export interface LedgerSnapshot {
  accounts: ReadonlyMap<string, LedgerAccount>;
  balances: ReadonlyMap<string, AccountBalance>;
  entries: Iterable<JournalEntry>;
  /** Every hold; those still pending make up the pending columns. Omitted: there are none. */
  holds?: Iterable<Hold>;
}

/** `GET /v1/ledger/verify` in one call, for a ledger that fits in memory. */
export function verifyLedger(snapshot: LedgerSnapshot): LedgerVerification {
  const recomputation = new LedgerRecomputation(snapshot.accounts);
  for (const entry of snapshot.entries) recomputation.addEntry(entry);
  for (const hold of snapshot.holds ?? []) recomputation.addHold(hold);
  return recomputation.finish(snapshot.balances);
}
