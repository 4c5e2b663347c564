import { ApiError, ErrorCode, type ErrorEnvelope } from '@paynet/contracts';
import type { JournalEntry } from '@paynet/ledger';
import type { EntityManager } from 'typeorm';

/**
 * Refusals are final. A transfer or hold refused for its accounts' state is
 * written to `refused_commands` in the transaction that refuses it, and every
 * later copy of the same id is answered that refusal, never applied: payments
 * records a refusal as the attempt's end, so a copy applying later (a paused
 * replica resuming, a slow re-send) would move money for a payment that says
 * it failed.
 */

export type RefusalKind = 'transfer' | 'hold';

export interface Refusal {
  id: string;
  /** The command's content (see transferFingerprint): a copy has the same, a re-use of the id another. */
  fingerprint: string;
  error: ApiError;
}

export function refusalAnswer(error: ApiError): ErrorEnvelope {
  return error.toEnvelope();
}

/** What a later command with a refused id is answered: the same refusal, or a conflict when its content differs. */
export function answerToCopy(refusal: Refusal, fingerprint: string, kind: RefusalKind): ApiError {
  if (refusal.fingerprint === fingerprint) return refusal.error;
  const code = kind === 'transfer' ? ErrorCode.transfer_exists_with_different_fields : ErrorCode.hold_exists_with_different_fields;
  return ApiError.conflict(code, `The ${kind} ${refusal.id} was refused with other content (${refusal.error.code}).`);
}

export interface RefusalRow {
  id: string;
  fingerprint: string;
  answer: ErrorEnvelope;
}

export function fromRefusalRow(row: RefusalRow): Refusal {
  const error = ApiError.fromEnvelope(row.answer);
  // Written by toEnvelope: anything else is a bug (or a hand-edited row).
  if (!error) throw new Error(`refused_commands row ${row.id} holds no error envelope`);
  return { id: row.id, fingerprint: row.fingerprint, error };
}

/** The recorded refusals among `ids`. */
export async function findRefusals(manager: EntityManager, kind: RefusalKind, ids: readonly string[]): Promise<Map<string, Refusal>> {
  const rows: RefusalRow[] = await manager.query('SELECT id, fingerprint, answer FROM refused_commands WHERE kind = $1 AND id = ANY($2::text[])', [
    kind,
    [...new Set(ids)],
  ]);
  return new Map(rows.map((row) => [row.id, fromRefusalRow(row)]));
}

/**
 * Records refusals; one already recorded (the same id refused by a concurrent
 * transaction over other accounts) is kept as it was.
 */
export async function recordRefusals(manager: EntityManager, kind: RefusalKind, refusals: readonly Refusal[]): Promise<void> {
  if (refusals.length === 0) return;
  await manager.query(
    `INSERT INTO refused_commands (kind, id, fingerprint, answer)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::jsonb[]) ON CONFLICT (kind, id) DO NOTHING`,
    [kind, ...refusalColumns(refusals)],
  );
}

/** The id, fingerprint and answer columns of refusals, for an unnest(text[], text[], jsonb[]). */
export function refusalColumns(refusals: readonly Refusal[]): [string[], string[], string[]] {
  return [refusals.map((refusal) => refusal.id), refusals.map((refusal) => refusal.fingerprint), refusals.map((refusal) => JSON.stringify(refusalAnswer(refusal.error)))];
}

/** A transfer's content as compareEntries sees it (currency and lines, in order), as text. */
export function transferFingerprint(entry: JournalEntry): string {
  return JSON.stringify([entry.currency, entry.lines.map((line) => [line.account_id, line.direction, line.amount_minor.toString()])]);
}
