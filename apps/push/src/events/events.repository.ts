import { IdPrefix, newId } from '@paynet/contracts';
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

/** A webhook delivery to make with its event, if the event is new. */
export interface EventDelivery {
  event_id: string;
  merchant_id: string;
  endpoint_id: string;
  url: string;
}

/**
 * Stores the events not there already (deduped by id) and, for each one that
 * was new, its webhook deliveries: one statement, so one transaction, for a
 * whole batch (ids must be distinct within it). Answers the ids that were new
 * and how many deliveries were made. An event published twice keeps its
 * first stream sequence, the one the live fan-out sent it at, so a resume
 * replays it where it was sent.
 */
export async function recordEvents(
  manager: EntityManager,
  events: readonly ReceivedEvent[],
  deliveries: readonly EventDelivery[],
): Promise<{ inserted: ReadonlySet<string>; deliveries: number }> {
  if (events.length === 0) return { inserted: new Set(), deliveries: 0 };
  const rows: { inserted: string[] | null; deliveries: number }[] = await manager.query(
    `WITH ev AS (
       INSERT INTO events (id, type, merchant_id, account_id, stream_seq, payload, created)
       SELECT e.id, e.type, e.merchant_id, e.account_id, e.stream_seq, e.payload, to_timestamp(e.created)
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::double precision[])
         AS e (id, type, merchant_id, account_id, stream_seq, payload, created)
       ON CONFLICT (id) DO UPDATE SET stream_seq = EXCLUDED.stream_seq WHERE EXCLUDED.stream_seq < events.stream_seq
       RETURNING id, (xmax = 0) AS inserted
     ), made AS (
       INSERT INTO webhook_deliveries (id, event_id, merchant_id, endpoint_id, url, origin, status, attempts, next_attempt_at)
       SELECT d.id, d.event_id, d.merchant_id, d.endpoint_id, d.url, 'event', 'pending', 0, now()
       FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) AS d (id, event_id, merchant_id, endpoint_id, url)
       JOIN ev ON ev.id = d.event_id AND ev.inserted
       ON CONFLICT (event_id, endpoint_id) WHERE origin = 'event' DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT array_agg(id) FROM ev WHERE inserted) AS inserted, (SELECT count(*) FROM made)::int AS deliveries`,
    [
      events.map((received) => received.event.id),
      events.map((received) => received.event.type),
      events.map((received) => received.event.merchant),
      events.map((received) => received.event.account),
      events.map((received) => received.stream_seq),
      events.map((received) => received.payload),
      events.map((received) => received.event.created),
      deliveries.map(() => newId(IdPrefix.delivery)),
      deliveries.map((delivery) => delivery.event_id),
      deliveries.map((delivery) => delivery.merchant_id),
      deliveries.map((delivery) => delivery.endpoint_id),
      deliveries.map((delivery) => delivery.url),
    ],
  );
  const row = rows[0];
  return { inserted: new Set(row?.inserted ?? []), deliveries: row?.deliveries ?? 0 };
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
