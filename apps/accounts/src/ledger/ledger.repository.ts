import type { Currency, ErrorEnvelope, PlatformEvent } from '@paynet/contracts';
import { type AccountBalance, entry_lines_max, type AccountKind, type AppliedLine, type JournalEntry, type LedgerAccount, type Side } from '@paynet/ledger';
import type { OutboxStatement } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
import { fromRefusalRow, type Refusal, refusalColumns } from './refused-commands.js';

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

/** Accounts as read under their balance locks: ledger rules, balances, and which are wallets (whose holders hear of changes). */
export interface LockedAccounts {
  accounts: Map<string, LedgerAccount>;
  balances: Map<string, AccountBalance>;
  wallets: Set<string>;
}

/**
 * A WITH list's CTE `locked`: the balance rows of the accounts named by the
 * text[] parameter `param`, locked in one fixed order (by account id), so two
 * transactions over the same accounts never wait on each other in a cycle.
 * Read with `locked_accounts_from` (each row with its account, one index probe each).
 */
function lockedCte(param: string): string {
  return `locked AS MATERIALIZED (
       SELECT account_id, debits_posted, credits_posted, debits_pending, credits_pending
       FROM balances WHERE account_id = ANY(${param}::text[]) ORDER BY account_id FOR UPDATE
     )`;
}

const locked_accounts_from = 'locked l CROSS JOIN LATERAL (SELECT * FROM ledger_accounts WHERE id = l.account_id LIMIT 1) a';

const locked_account_columns = `a.id, a.currency, a.kind, a.normal_side, a.debits_must_not_exceed_credits, a.credits_must_not_exceed_debits,
       l.debits_posted, l.credits_posted, l.debits_pending, l.credits_pending`;

/** Locks the balance rows of `ids` (see lockedCte) and reads them with their accounts, in one round trip. */
export async function lockAccounts(manager: EntityManager, ids: readonly string[]): Promise<LockedAccounts> {
  const rows: LockedBatchRow[] = await manager.query(`WITH ${lockedCte('$1')} SELECT ${locked_account_columns} FROM ${locked_accounts_from}`, [[...new Set(ids)]]);
  const locked: LockedAccounts = { accounts: new Map(), balances: new Map(), wallets: new Set() };
  for (const row of rows) readLockedAccount(locked, row);
  return locked;
}

export async function readBalance(manager: EntityManager, id: string): Promise<AccountBalance | undefined> {
  const rows: BalanceRow[] = await manager.query(
    'SELECT account_id, debits_posted, credits_posted, debits_pending, credits_pending FROM balances WHERE account_id = $1',
    [id],
  );
  return rows[0] ? toBalance(rows[0]) : undefined;
}

/** Events a write adds to the outbox in its own statement (OutboxStatement): no round trip of their own; published after its commit. */
export interface OutboxEvents {
  outbox: OutboxStatement;
  events: readonly PlatformEvent[];
}

/** Writes the new balances of many accounts, and the events that report them, in one statement. */
export async function writeBalances(manager: EntityManager, balances: ReadonlyMap<string, AccountBalance>, { outbox, events }: OutboxEvents): Promise<void> {
  if (balances.size === 0) return;
  const rows = [...balances];
  const [outcome]: { balances: string; outbox_rows: string }[] = await manager.query(
    `WITH updated_balances AS (
       UPDATE balances AS b SET debits_posted = u.debits_posted, credits_posted = u.credits_posted,
         debits_pending = u.debits_pending, credits_pending = u.credits_pending
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
         AS u(account_id, debits_posted, credits_posted, debits_pending, credits_pending)
       WHERE b.account_id = u.account_id
       RETURNING 1
     ), ${outbox.ctes(6)}
     SELECT (SELECT count(*) FROM updated_balances) AS balances, ${outbox.columns}`,
    [
      rows.map(([id]) => id),
      rows.map(([, balance]) => balance.debits_posted.toString()),
      rows.map(([, balance]) => balance.credits_posted.toString()),
      rows.map(([, balance]) => balance.debits_pending.toString()),
      rows.map(([, balance]) => balance.credits_pending.toString()),
      ...outbox.params(events),
    ],
  );
  if (Number(outcome?.balances) !== rows.length || Number(outcome?.outbox_rows) !== events.length) {
    throw new Error(`assertion failed: wrote ${outcome?.balances}/${rows.length} balances, ${outcome?.outbox_rows}/${events.length} events`);
  }
  await outbox.written(manager, events);
}

export interface EntryToAppend {
  entry: JournalEntry;
  lines: AppliedLine[];
  line_ids: string[];
  description: string;
  payment_intent: string | null;
}

/** What a transfer batch reads under its locks, in one round trip. */
export interface LockedBatch extends LockedAccounts {
  /** Transfers already in the journal among the batch's ids, their lines in order. */
  existing: Map<string, StoredEntry>;
  /** Transfers already refused among the batch's ids (refused-commands.ts). */
  refused: Map<string, Refusal>;
}

export interface StoredEntry {
  entry: JournalEntry;
  created: number;
  line_ids: string[];
}

interface LockedBatchRow {
  row_kind: 'account' | 'posting' | 'refusal';
  id: string;
  currency: string;
  kind: AccountKind | null;
  normal_side: Side | null;
  debits_must_not_exceed_credits: boolean | null;
  credits_must_not_exceed_debits: boolean | null;
  debits_posted: string | null;
  credits_posted: string | null;
  debits_pending: string | null;
  credits_pending: string | null;
  created: string | null;
  line_id: string | null;
  line_index: number | null;
  account_id: string | null;
  direction: Side | null;
  amount: string | null;
  fingerprint: string | null;
  answer: ErrorEnvelope | null;
}

/**
 * One statement for the transfer batch's reads: locks the balance rows in
 * account-id order (no deadlocks) with their accounts, and finds which of the
 * batch's transfer ids are in the journal already or were refused (accounts
 * and entries looked up one id at a time, see storedLinesFrom).
 *
 * The journal and the refusals are read in the statement's snapshot, taken
 * before the lock wait, while the locked balance rows come back as they are
 * once the lock is ours: a copy of transfer X that waited behind the batch
 * applying X sees the balance X left and not X itself. So this read is only
 * a first look, and what the batch decides from it is checked again by
 * writeBatch, whose snapshot is taken after the locks are held: a transfer
 * this batch would apply or refuse that is already applied or refused there
 * makes the batch roll back and run again (`TransferRaced`), and seen here
 * then. That keeps a batch at two statements (a third read after the lock
 * would cost every batch a round trip; the check costs two index probes per
 * transfer, and a re-run only when a copy raced its first).
 */
export async function lockBatch(manager: EntityManager, account_ids: readonly string[], entry_ids: readonly string[]): Promise<LockedBatch> {
  const rows: LockedBatchRow[] = await manager.query(
    `WITH ${lockedCte('$1')}
     SELECT 'account' AS row_kind, ${locked_account_columns},
       NULL::bigint AS created, NULL::text AS line_id, NULL::smallint AS line_index, NULL::text AS account_id, NULL::text AS direction, NULL::bigint AS amount,
       NULL::text AS fingerprint, NULL::jsonb AS answer
     FROM ${locked_accounts_from}
     UNION ALL
     SELECT 'posting', found.id, found.currency, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       found.created, found.line_id, found.line_index, found.account_id, found.direction, found.amount, NULL, NULL
     FROM ${storedLinesFrom('$2')}
     UNION ALL
     SELECT 'refusal', r.id, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, r.fingerprint, r.answer
     FROM unnest($2::text[]) AS wanted(id)
       CROSS JOIN LATERAL (SELECT * FROM refused_commands WHERE kind = 'transfer' AND id = wanted.id LIMIT 1) r`,
    // Each id once: a batch may carry the same transfer twice (a re-send), and a repeated id would repeat its lines.
    // (The lock order is the SQL ORDER BY; the ids need no sorting here.)
    [[...new Set(account_ids)], [...new Set(entry_ids)]],
  );
  const batch: LockedBatch = { accounts: new Map(), balances: new Map(), wallets: new Set(), existing: new Map(), refused: new Map() };
  const lines: LockedBatchRow[] = [];
  for (const row of rows) {
    if (row.row_kind === 'posting') lines.push(row);
    else if (row.row_kind === 'refusal') batch.refused.set(row.id, fromRefusalRow({ id: row.id, fingerprint: row.fingerprint as string, answer: row.answer as ErrorEnvelope }));
    else readLockedAccount(batch, row);
  }
  batch.existing = readStoredLines(lines);
  return batch;
}

/**
 * The journal lines of the entries named by the text[] parameter `param`,
 * looked up one id at a time (LATERAL ... LIMIT, which the planner keeps as
 * index probes): on tables not analyzed since they grew, a join over the id
 * list was planned as a scan of all of postings, slower with every batch.
 */
export function storedLinesFrom(param: string): string {
  return `unnest(${param}::text[]) AS wanted(id) CROSS JOIN LATERAL (
       SELECT e.id, e.currency, floor(extract(epoch FROM e.created_at))::bigint AS created,
         p.id AS line_id, p.line_index, p.account_id, p.direction, p.amount
       FROM journal_entries e JOIN postings p ON p.entry_id = e.id
       WHERE e.id = wanted.id AND p.entry_id = wanted.id LIMIT ${entry_lines_max}
     ) found`;
}

/** Transfers already in the journal among `ids`, their lines in order (for "what happened to transfer X"). */
export async function findStoredEntries(manager: EntityManager, ids: readonly string[]): Promise<Map<string, StoredEntry>> {
  const rows: LockedBatchRow[] = await manager.query(`SELECT found.* FROM ${storedLinesFrom('$1')}`, [[...new Set(ids)]]);
  return readStoredLines(rows);
}

function readStoredLines(rows: LockedBatchRow[]): Map<string, StoredEntry> {
  rows.sort((left, right) => (left.id === right.id ? (left.line_index ?? 0) - (right.line_index ?? 0) : left.id < right.id ? -1 : 1));
  const existing = new Map<string, StoredEntry>();
  for (const row of rows) readStoredLine(existing, row);
  return existing;
}

function readLockedAccount(batch: LockedAccounts, row: LockedBatchRow): void {
  if (row.kind === 'wallet') batch.wallets.add(row.id);
  batch.accounts.set(row.id, {
    id: row.id,
    currency: row.currency.trim(),
    normal_side: row.normal_side as Side,
    flags: {
      debits_must_not_exceed_credits: row.debits_must_not_exceed_credits as boolean,
      credits_must_not_exceed_debits: row.credits_must_not_exceed_debits as boolean,
    },
  });
  batch.balances.set(row.id, {
    debits_posted: BigInt(row.debits_posted as string),
    credits_posted: BigInt(row.credits_posted as string),
    debits_pending: BigInt(row.debits_pending as string),
    credits_pending: BigInt(row.credits_pending as string),
  });
}

function readStoredLine(existing: Map<string, StoredEntry>, row: LockedBatchRow): void {
  let stored = existing.get(row.id);
  if (!stored) {
    stored = { entry: { id: row.id, currency: row.currency.trim(), lines: [] }, created: Number(row.created), line_ids: [] };
    existing.set(row.id, stored);
  }
  stored.entry.lines.push({ account_id: row.account_id as string, direction: row.direction as Side, amount_minor: BigInt(row.amount as string) });
  stored.line_ids.push(row.line_id as string);
}

/**
 * What a transfer batch decided from its first look (lockBatch), to be
 * checked in the write's own snapshot: the ids it applies or refuses, and
 * the refusals to record.
 */
export interface BatchDecisions {
  refusals: readonly Refusal[];
  /** Every id the batch applies or refuses now (none already applied or refused at its first look). */
  decided_ids: readonly string[];
}

const no_decisions: BatchDecisions = { refusals: [], decided_ids: [] };

/**
 * One statement for the transfer batch's writes: its journal entries, their
 * postings, the new balances, the events that report them (outbox rows, see
 * balance-events.ts) and its refusals. Runs after the batch's locks
 * are held, so its snapshot sees every transaction that held them before:
 * if one of the ids decided here was applied or refused meanwhile (the
 * `guard`), or an entry id was taken first, nothing is written and it
 * answers undefined (the caller rolls back and runs again). Otherwise it
 * answers the entries' creation time.
 */
export async function writeBatch(
  manager: EntityManager,
  entries: readonly EntryToAppend[],
  balances: ReadonlyMap<string, AccountBalance>,
  { outbox, events }: OutboxEvents,
  decisions: BatchDecisions = no_decisions,
): Promise<number | undefined> {
  const postings = entries.flatMap((item) => item.lines.map((line, index) => ({ item, line, index })));
  const balance_rows = [...balances];
  const rows: { complete: boolean; created: string | null; postings: string; balances: string; outbox_rows: string }[] = await manager.query(
    `WITH guard AS (
       -- One index probe per id (the LATERAL style of storedLinesFrom): applied ids are caught by ON CONFLICT below.
       SELECT NOT EXISTS (SELECT 1 FROM unnest($19::text[]) AS refused(id) WHERE EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = refused.id))
         AND NOT EXISTS (SELECT 1 FROM unnest($20::text[]) AS decided(id)
                         WHERE EXISTS (SELECT 1 FROM refused_commands r WHERE r.kind = 'transfer' AND r.id = decided.id)) AS clear
     ), inserted_entries AS (
       INSERT INTO journal_entries (id, currency, description, payment_intent)
       SELECT u.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, currency, description, payment_intent), guard
       WHERE guard.clear
       ON CONFLICT (id) DO NOTHING RETURNING created_at
     ), outcome AS (
       SELECT (SELECT clear FROM guard) AND (SELECT count(*) FROM inserted_entries) = $18::int AS complete,
         floor(extract(epoch FROM coalesce((SELECT min(created_at) FROM inserted_entries), now())))::bigint AS created
     ), inserted_postings AS (
       INSERT INTO postings (id, entry_id, line_index, account_id, direction, amount, currency, balance_after)
       SELECT u.* FROM unnest($5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::bigint[], $11::text[], $12::bigint[])
         AS u(id, entry_id, line_index, account_id, direction, amount, currency, balance_after), outcome
       WHERE outcome.complete
       RETURNING 1
     ), updated_balances AS (
       UPDATE balances AS b SET debits_posted = u.debits_posted, credits_posted = u.credits_posted,
         debits_pending = u.debits_pending, credits_pending = u.credits_pending
       FROM unnest($13::text[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[])
         AS u(account_id, debits_posted, credits_posted, debits_pending, credits_pending), outcome
       WHERE b.account_id = u.account_id AND outcome.complete
       RETURNING 1
     ), inserted_refusals AS (
       INSERT INTO refused_commands (kind, id, fingerprint, answer)
       SELECT 'transfer', u.* FROM unnest($21::text[], $22::text[], $23::jsonb[]) AS u(id, fingerprint, answer), outcome
       WHERE outcome.complete
       ON CONFLICT (kind, id) DO NOTHING
     ), ${outbox.ctes(24, '(SELECT complete FROM outcome)')}
     SELECT outcome.complete, outcome.created,
       (SELECT count(*) FROM inserted_postings) AS postings, (SELECT count(*) FROM updated_balances) AS balances, ${outbox.columns}
     FROM outcome`,
    [
      entries.map((item) => item.entry.id),
      entries.map((item) => item.entry.currency),
      entries.map((item) => item.description),
      entries.map((item) => item.payment_intent),
      postings.map(({ item, index }) => item.line_ids[index]),
      postings.map(({ item }) => item.entry.id),
      postings.map(({ index }) => index),
      postings.map(({ line }) => line.account_id),
      postings.map(({ line }) => line.direction),
      postings.map(({ line }) => line.amount_minor.toString()),
      postings.map(({ item }) => item.entry.currency),
      postings.map(({ line }) => line.balance_after.toString()),
      balance_rows.map(([id]) => id),
      balance_rows.map(([, balance]) => balance.debits_posted.toString()),
      balance_rows.map(([, balance]) => balance.credits_posted.toString()),
      balance_rows.map(([, balance]) => balance.debits_pending.toString()),
      balance_rows.map(([, balance]) => balance.credits_pending.toString()),
      entries.length,
      decisions.refusals.map((refusal) => refusal.id),
      decisions.decided_ids,
      ...refusalColumns(decisions.refusals),
      ...outbox.params(events),
    ],
  );
  const outcome = rows[0];
  if (!outcome?.complete) return undefined;
  // Every row we meant to write was written, or the batch is not what we think it is.
  if (Number(outcome.postings) !== postings.length || Number(outcome.balances) !== balance_rows.length || Number(outcome.outbox_rows) !== events.length) {
    throw new Error(
      `assertion failed: batch wrote ${outcome.postings}/${postings.length} postings, ${outcome.balances}/${balance_rows.length} balances, ${outcome.outbox_rows}/${events.length} events`,
    );
  }
  await outbox.written(manager, events);
  return Number(outcome.created);
}
