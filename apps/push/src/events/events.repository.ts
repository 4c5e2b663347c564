import type { EntityManager } from 'typeorm';
import type { ReceivedEvent } from './received-event.js';

/** SQL for push's copy of the events. */

export interface EventRow {
  id: string;
  type: string;
  merchant_id: string | null;
  account_id: string | null;
  stream_seq: string;
}

/**
 * Stores the event unless it is there already (deduped by id); answers whether
 * it was new. An event published twice keeps its first stream sequence, the
 * one the live fan-out sent it at, so a resume replays it where it was sent.
 */
export async function insertEvent(manager: EntityManager, received: ReceivedEvent): Promise<boolean> {
  const { event } = received;
  const rows: { inserted: boolean }[] = await manager.query(
    `INSERT INTO events (id, type, merchant_id, account_id, stream_seq, payload, created)
     VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7))
     ON CONFLICT (id) DO UPDATE SET stream_seq = EXCLUDED.stream_seq WHERE EXCLUDED.stream_seq < events.stream_seq
     RETURNING (xmax = 0) AS inserted`,
    [event.id, event.type, event.merchant, event.account, received.stream_seq, received.payload, event.created],
  );
  return rows[0]?.inserted === true;
}

export async function findEvent(manager: EntityManager, id: string): Promise<EventRow | undefined> {
  const rows: EventRow[] = await manager.query('SELECT id, type, merchant_id, account_id, stream_seq FROM events WHERE id = $1', [id]);
  return rows[0];
}

/** Whose events: a merchant's (its `merchant`) or a holder's (its `account`). */
export type EventOwner = { kind: 'merchant'; merchant_id: string } | { kind: 'holder'; account_id: string };

/** The owner's column and id; the column is one of two constants, never input. */
function ownerFilter(owner: EventOwner): { column: 'merchant_id' | 'account_id'; id: string } {
  return owner.kind === 'merchant' ? { column: 'merchant_id', id: owner.merchant_id } : { column: 'account_id', id: owner.account_id };
}

export interface OwnedEventRow {
  stream_seq: string;
  payload: string;
  /** Received longer ago than the retention: the sweeper may already have taken events around it. */
  expired: boolean;
}

/** One of the owner's events; another owner's is not found. */
export async function findOwnedEvent(manager: EntityManager, owner: EventOwner, id: string, retention_days: number): Promise<OwnedEventRow | undefined> {
  const { column, id: owner_id } = ownerFilter(owner);
  const rows: OwnedEventRow[] = await manager.query(
    `SELECT stream_seq, payload, received_at < now() - make_interval(days => $3) AS expired
     FROM events WHERE id = $1 AND ${column} = $2`,
    [id, owner_id, retention_days],
  );
  return rows[0];
}

/** The owner's events with after_seq < stream_seq < before_seq, oldest first, at most `limit`. */
export async function eventsBetween(
  manager: EntityManager,
  owner: EventOwner,
  range: { after_seq: string; before_seq: number; limit: number },
): Promise<{ stream_seq: string; payload: string }[]> {
  const { column, id } = ownerFilter(owner);
  return manager.query(
    `SELECT stream_seq, payload FROM events
     WHERE ${column} = $1 AND stream_seq > $2 AND stream_seq < $3
     ORDER BY stream_seq LIMIT $4`,
    [id, range.after_seq, range.before_seq, range.limit],
  );
}

/** The owner's events newest first (by stream sequence), optionally of one type, below a cursor. */
export async function listOwnedEvents(
  manager: EntityManager,
  owner: EventOwner,
  page: { type?: string; before_seq?: string; limit: number },
): Promise<{ id: string; payload: string }[]> {
  const { column, id } = ownerFilter(owner);
  return manager.query(
    `SELECT id, payload FROM events
     WHERE ${column} = $1 AND ($2::text IS NULL OR type = $2) AND ($3::bigint IS NULL OR stream_seq < $3)
     ORDER BY stream_seq DESC LIMIT $4`,
    [id, page.type ?? null, page.before_seq ?? null, page.limit],
  );
}
