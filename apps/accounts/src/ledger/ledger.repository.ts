import type { Currency } from '@paynet/contracts';
import { type AccountBalance, type AccountKind, type AppliedLine, type JournalEntry, type LedgerAccount, type Side } from '@paynet/ledger';
import type { EntityManager } from 'typeorm';

/** Row mapping for the ledger tables; SQL lives here, rules live in @paynet/ledger. */

export interface AccountRow {
  id: string;
  kind: AccountKind;
  currency: Currency;
  owner_name: string;
  normal_side: Side;
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
  created_at: Date;
}

export function toLedgerAccount(row: AccountRow): LedgerAccount {
  return {
    id: row.id,
    currency: row.currency,
    normal_side: row.normal_side,
    flags: {
      debits_must_not_exceed_credits: row.debits_must_not_exceed_credits,
      credits_must_not_exceed_debits: row.credits_must_not_exceed_debits,
    },
  };
}

interface BalanceRow {
  account_id: string;
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
}

function toBalance(row: BalanceRow): AccountBalance {
  return {
    debits_posted: BigInt(row.debits_posted),
    credits_posted: BigInt(row.credits_posted),
    debits_pending: BigInt(row.debits_pending),
    credits_pending: BigInt(row.credits_pending),
  };
}

const account_columns =
  'id, kind, currency, owner_name, normal_side, debits_must_not_exceed_credits, credits_must_not_exceed_debits, created_at';

export async function findAccounts(manager: EntityManager, ids: readonly string[]): Promise<Map<string, AccountRow>> {
  const rows: AccountRow[] = await manager.query(
    `SELECT ${account_columns} FROM ledger_accounts WHERE id = ANY($1::text[])`,
    [ids],
  );
  return new Map(rows.map((row) => [row.id, { ...row, currency: row.currency.trim() as Currency }]));
}

export async function findPlatformAccountId(manager: EntityManager, kind: 'funding' | 'fees', currency: string): Promise<string | undefined> {
  const rows: { id: string }[] = await manager.query('SELECT id FROM ledger_accounts WHERE kind = $1 AND currency = $2', [kind, currency]);
  return rows[0]?.id;
}

/**
 * Locks the balance rows in one fixed order (by account id), so two
 * transfers over the same accounts never wait on each other in a cycle.
 */
export async function lockBalances(manager: EntityManager, ids: readonly string[]): Promise<Map<string, AccountBalance>> {
  const sorted = [...new Set(ids)].sort();
  const rows: BalanceRow[] = await manager.query(
    `SELECT account_id, debits_posted, credits_posted, debits_pending, credits_pending
     FROM balances WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE`,
    [sorted],
  );
  return new Map(rows.map((row) => [row.account_id, toBalance(row)]));
}

export async function readBalance(manager: EntityManager, id: string): Promise<AccountBalance | undefined> {
  const rows: BalanceRow[] = await manager.query(
    'SELECT account_id, debits_posted, credits_posted, debits_pending, credits_pending FROM balances WHERE account_id = $1',
    [id],
  );
  return rows[0] ? toBalance(rows[0]) : undefined;
}

/** Writes the new balances of many accounts in one statement. */
export async function writeBalances(manager: EntityManager, balances: ReadonlyMap<string, AccountBalance>): Promise<void> {
  if (balances.size === 0) return;
  const rows = [...balances];
  await manager.query(
    `UPDATE balances AS b SET debits_posted = u.debits_posted, credits_posted = u.credits_posted,
       debits_pending = u.debits_pending, credits_pending = u.credits_pending
     FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
       AS u(account_id, debits_posted, credits_posted, debits_pending, credits_pending)
     WHERE b.account_id = u.account_id`,
    [
      rows.map(([id]) => id),
      rows.map(([, balance]) => balance.debits_posted.toString()),
      rows.map(([, balance]) => balance.credits_posted.toString()),
      rows.map(([, balance]) => balance.debits_pending.toString()),
      rows.map(([, balance]) => balance.credits_pending.toString()),
    ],
  );
}

export interface EntryToAppend {
  entry: JournalEntry;
  lines: AppliedLine[];
  line_ids: string[];
  description: string;
  payment_intent: string | null;
}

/**
 * Appends journal entries and their postings, as the transfer path does;
 * answers their creation time (the transaction's), or undefined when an entry
 * id was taken first: the caller must then roll back.
 */
export async function appendEntries(manager: EntityManager, entries: readonly EntryToAppend[]): Promise<number | undefined> {
  const inserted: { created: string }[] = await manager.query(
    `INSERT INTO journal_entries (id, currency, description, payment_intent)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT (id) DO NOTHING RETURNING floor(extract(epoch FROM created_at))::bigint AS created`,
    [entries.map((item) => item.entry.id), entries.map((item) => item.entry.currency), entries.map((item) => item.description), entries.map((item) => item.payment_intent)],
  );
  if (inserted.length !== entries.length) return undefined;
  const postings = entries.flatMap((item) => item.lines.map((line, index) => ({ item, line, index })));
  await manager.query(
    `INSERT INTO postings (id, entry_id, line_index, account_id, direction, amount, currency, balance_after)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[])`,
    [
      postings.map(({ item, index }) => item.line_ids[index]),
      postings.map(({ item }) => item.entry.id),
      postings.map(({ index }) => index),
      postings.map(({ line }) => line.account_id),
      postings.map(({ line }) => line.direction),
      postings.map(({ line }) => line.amount_minor.toString()),
      postings.map(({ item }) => item.entry.currency),
      postings.map(({ line }) => line.balance_after.toString()),
    ],
  );
  return Number(inserted[0]?.created);
}
