import type { Currency, HoldVoidReason } from '@paynet/contracts';
import type { Hold, HoldState } from '@paynet/ledger';
import { updateReturning } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
import { fromRefusalRow, type Refusal, type RefusalRow } from '../ledger/refused-commands.js';

/** Row mapping for the holds table (and the journal rows a post appends); rules live in @paynet/ledger. */

export interface HoldRow {
  id: string;
  currency: Currency;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  /** Unix seconds. */
  expires_at: string;
  state: HoldState;
  posted_amount: string;
  fee_amount: string;
  void_reason: HoldVoidReason | null;
  description: string;
  payment_intent: string | null;
  created: string;
  updated: string;
}

const hold_columns = `id, currency, debit_account_id, credit_account_id, amount,
  floor(extract(epoch FROM expires_at))::bigint AS expires_at, state, posted_amount, fee_amount, void_reason,
  description, payment_intent, floor(extract(epoch FROM created_at))::bigint AS created,
  floor(extract(epoch FROM updated_at))::bigint AS updated`;

function fromRow(row: HoldRow): HoldRow {
  return { ...row, currency: row.currency.trim() as Currency };
}

export function toHold(row: HoldRow): Hold {
  return {
    id: row.id,
    currency: row.currency,
    debit_account_id: row.debit_account_id,
    credit_account_id: row.credit_account_id,
    amount_minor: BigInt(row.amount),
    expires_at: Number(row.expires_at),
    state: row.state,
    posted_amount_minor: BigInt(row.posted_amount),
  };
}

export async function findHold(manager: EntityManager, id: string): Promise<HoldRow | undefined> {
  const rows: HoldRow[] = await manager.query(`SELECT ${hold_columns} FROM holds WHERE id = $1`, [id]);
  return rows[0] && fromRow(rows[0]);
}

/** The hold row locked for this transaction; always taken before any balance row (see HoldsService). */
export async function lockHold(manager: EntityManager, id: string): Promise<HoldRow | undefined> {
  const rows: HoldRow[] = await manager.query(`SELECT ${hold_columns} FROM holds WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] && fromRow(rows[0]);
}

/**
 * Up to `limit` expired pending holds, locked; rows another replica's sweep
 * (or a command) holds are skipped, so replicas share the work.
 */
export async function lockExpiredHolds(manager: EntityManager, limit: number): Promise<HoldRow[]> {
  const rows: HoldRow[] = await manager.query(
    `SELECT ${hold_columns} FROM holds WHERE state = 'pending' AND expires_at <= now()
     ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows.map(fromRow);
}

export interface NewHold {
  hold: Hold;
  description: string;
  payment_intent: string | null;
}

/** Inserts a pending hold; answers undefined when a concurrent transaction inserted the same id first. */
export async function insertHold(manager: EntityManager, input: NewHold): Promise<HoldRow | undefined> {
  const { hold } = input;
  const rows: HoldRow[] = await manager.query(
    `INSERT INTO holds (id, currency, debit_account_id, credit_account_id, amount, expires_at, state, description, payment_intent)
     VALUES ($1, $2, $3, $4, $5, to_timestamp($6), 'pending', $7, $8)
     ON CONFLICT (id) DO NOTHING RETURNING ${hold_columns}`,
    [hold.id, hold.currency, hold.debit_account_id, hold.credit_account_id, hold.amount_minor.toString(), hold.expires_at, input.description, input.payment_intent],
  );
  return rows[0] && fromRow(rows[0]);
}

export async function markPosted(manager: EntityManager, id: string, posted_minor: bigint, fee_minor: bigint): Promise<HoldRow> {
  const rows = await updateReturning<HoldRow>(
    manager,
    `UPDATE holds SET state = 'posted', posted_amount = $2, fee_amount = $3, updated_at = now()
     WHERE id = $1 AND state = 'pending' RETURNING ${hold_columns}`,
    [id, posted_minor.toString(), fee_minor.toString()],
  );
  return mustBeOne(rows, id);
}

export async function markVoided(manager: EntityManager, ids: readonly string[], reason: HoldVoidReason): Promise<HoldRow[]> {
  const rows = await updateReturning<HoldRow>(
    manager,
    `UPDATE holds SET state = 'voided', void_reason = $2, updated_at = now()
     WHERE id = ANY($1::text[]) AND state = 'pending' RETURNING ${hold_columns}`,
    [ids, reason],
  );
  // The caller holds these rows locked as pending: each one must have changed.
  if (rows.length !== ids.length) throw new Error(`voided ${rows.length} of ${ids.length} locked pending holds`);
  return rows.map(fromRow);
}

function mustBeOne(rows: HoldRow[], id: string): HoldRow {
  const row = rows[0];
  if (rows.length !== 1 || !row) throw new Error(`hold ${id} was not pending under its lock`);
  return fromRow(row);
}

/**
 * For a new place: which of the hold's journal entry ids a transfer took
 * (they must be the hold's own), and whether this hold id was refused before
 * (refused-commands.ts). One round trip; run under the balance locks, so it
 * sees whatever a concurrent place of the same id did.
 */
export async function takenOrRefused(manager: EntityManager, hold_id: string, entry_ids: readonly string[]): Promise<{ taken: string[]; refusal?: Refusal }> {
  const rows: (RefusalRow & { row_kind: 'entry' | 'refusal' })[] = await manager.query(
    `SELECT 'entry' AS row_kind, id, NULL AS fingerprint, NULL::jsonb AS answer FROM journal_entries WHERE id = ANY($1::text[])
     UNION ALL
     SELECT 'refusal', id, fingerprint, answer FROM refused_commands WHERE kind = 'hold' AND id = $2`,
    [entry_ids, hold_id],
  );
  const refused = rows.find((row) => row.row_kind === 'refusal');
  const taken = rows.filter((row) => row.row_kind === 'entry').map((row) => row.id);
  return refused ? { taken, refusal: fromRefusalRow(refused) } : { taken };
}

/** The statement line ids of entries, in line order, and the first entry's creation time. */
export async function entryLines(manager: EntityManager, entry_ids: readonly string[]): Promise<{ created: number; line_ids: Map<string, string[]> }> {
  const rows: { entry_id: string; line_id: string; created: string }[] = await manager.query(
    `SELECT p.entry_id, p.id AS line_id, floor(extract(epoch FROM e.created_at))::bigint AS created
     FROM postings p JOIN journal_entries e ON e.id = p.entry_id
     WHERE p.entry_id = ANY($1::text[]) ORDER BY p.entry_id, p.line_index`,
    [entry_ids],
  );
  const line_ids = new Map<string, string[]>(entry_ids.map((id) => [id, []]));
  for (const row of rows) line_ids.get(row.entry_id)?.push(row.line_id);
  return { created: Number(rows[0]?.created ?? 0), line_ids };
}

/** The database's clock, in whole seconds: one clock for every replica and the sweeper. */
export async function databaseNowSeconds(manager: EntityManager): Promise<number> {
  const rows: { now: string }[] = await manager.query('SELECT floor(extract(epoch FROM clock_timestamp()))::bigint AS now');
  return Number(rows[0]?.now);
}
