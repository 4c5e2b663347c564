import { IdPrefix, newId } from '@paynet/contracts';
import type { EntityManager } from 'typeorm';
import {
  type AttemptRecord,
  attemptsCtes,
  type ClaimedDelivery,
  type EndpointHealthUpdate,
  type RecordedAttempts,
  type RecordedAttemptsRow,
  recorded_attempts_columns,
  recordedAttemptsOf,
} from '../webhooks/webhook-deliveries.repository.js';
import type { ReceivedEvent } from './received-event.js';

/** SQL for push's copy of the events. */

/** Parameters of recordEvents' own part ($1 to $15); the carried outcomes' are numbered after them. */
const events_statement_params = 15;

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
  /** Made claimed under the batch's claim: the worker has a slot for it and attempts it as soon as the batch commits. */
  claimed: boolean;
}

/** The claim that deliveries made claimed are made under (the worker's fence, as for a claim of due rows). */
export interface BatchClaim {
  claim_id: string;
  lease_ms: number;
}

export interface RecordedEvents {
  /** The ids of the events that were new. */
  inserted: ReadonlySet<string>;
  /** The deliveries made claimed (their events were new), with what an attempt needs. */
  claimed: ClaimedDelivery[];
  /** Deliveries made unclaimed, due now for whichever replica claims them. */
  unclaimed: number;
  /** What became of the attempt outcomes the statement carried. */
  attempts: RecordedAttempts;
}

/** Attempt outcomes waiting for a record, carried by the statement that records a batch of events. */
export interface CarriedAttempts {
  attempts: readonly AttemptRecord[];
  health: readonly EndpointHealthUpdate[];
}

/**
 * Stores the events not there already (deduped by id) and, for each one that
 * was new, its webhook deliveries: one statement, so one transaction, for a
 * whole batch (ids must be distinct within it). A delivery is made only with
 * an event this very statement inserted, which is what keeps every delivery's
 * event there without a foreign key to check per row. A delivery marked
 * `claimed` is made under the batch's claim, its lease running, so the worker
 * attempts it after the commit without a claim statement of its own; if this
 * replica dies first, the lease runs out and any replica claims it. An event
 * published twice keeps its first stream sequence, the one the live fan-out
 * sent it at, so a resume replays it where it was sent. The same statement
 * records the webhook attempt outcomes it is given (`carried`: attempts on
 * deliveries committed earlier, so never a row this statement makes), which
 * saves them a transaction of their own.
 */
export async function recordEvents(
  manager: EntityManager,
  events: readonly ReceivedEvent[],
  deliveries: readonly EventDelivery[],
  claim: BatchClaim,
  carried: CarriedAttempts = { attempts: [], health: [] },
): Promise<RecordedEvents> {
  if (events.length === 0) throw new RangeError('recordEvents needs at least one event');
  const ids = deliveries.map(() => newId(IdPrefix.delivery));
  const outcomes = attemptsCtes(carried.attempts, carried.health, events_statement_params + 1);
  const rows: ({ inserted: string[] | null; claimed: string[] | null; unclaimed: number; now_ms: string } & RecordedAttemptsRow)[] = await manager.query(
    `WITH ev AS (
       INSERT INTO events (id, type, merchant_id, account_id, stream_seq, payload, created)
       SELECT e.id, e.type, e.merchant_id, e.account_id, e.stream_seq, e.payload, to_timestamp(e.created)
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::double precision[])
         AS e (id, type, merchant_id, account_id, stream_seq, payload, created)
       ON CONFLICT (id) DO UPDATE SET stream_seq = EXCLUDED.stream_seq WHERE EXCLUDED.stream_seq < events.stream_seq
       RETURNING id, (xmax = 0) AS inserted
     ), made AS (
       INSERT INTO webhook_deliveries (id, event_id, merchant_id, endpoint_id, url, origin, status, attempts, next_attempt_at, claim_id)
       SELECT d.id, d.event_id, d.merchant_id, d.endpoint_id, d.url, 'event', 'pending', 0,
              CASE WHEN d.claimed THEN now() + make_interval(secs => $15::double precision) ELSE now() END,
              CASE WHEN d.claimed THEN $14::uuid END
       FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[]) AS d (id, event_id, merchant_id, endpoint_id, url, claimed)
       JOIN ev ON ev.id = d.event_id AND ev.inserted
       ON CONFLICT (event_id, endpoint_id) WHERE origin = 'event' DO NOTHING
       RETURNING id, claim_id IS NOT NULL AS claimed
     ), ${outcomes.sql}
     SELECT (SELECT array_agg(id) FROM ev WHERE inserted) AS inserted,
            (SELECT array_agg(id) FROM made WHERE claimed) AS claimed,
            (SELECT count(*) FROM made WHERE NOT claimed)::int AS unclaimed,
            floor(extract(epoch FROM now()) * 1000)::bigint AS now_ms,
            ${recorded_attempts_columns}`,
    [
      events.map((received) => received.event.id),
      events.map((received) => received.event.type),
      events.map((received) => received.event.merchant),
      events.map((received) => received.event.account),
      events.map((received) => received.stream_seq),
      events.map((received) => received.payload),
      events.map((received) => received.event.created),
      ids,
      deliveries.map((delivery) => delivery.event_id),
      deliveries.map((delivery) => delivery.merchant_id),
      deliveries.map((delivery) => delivery.endpoint_id),
      deliveries.map((delivery) => delivery.url),
      deliveries.map((delivery) => delivery.claimed),
      claim.claim_id,
      claim.lease_ms / 1_000,
      ...outcomes.params,
    ],
  );
  const row = rows[0];
  const claimed_ids = new Set(row?.claimed ?? []);
  const payloads = new Map(events.map((received) => [received.event.id, received.payload]));
  const claimed: ClaimedDelivery[] = [];
  deliveries.forEach((delivery, index) => {
    const id = ids[index] as string;
    if (!claimed_ids.has(id)) return;
    claimed.push({
      id,
      claim_id: claim.claim_id,
      event_id: delivery.event_id,
      merchant_id: delivery.merchant_id,
      endpoint_id: delivery.endpoint_id,
      // created_at is the transaction's now(), as the statement answered it.
      created_ms: row?.now_ms ?? String(Date.now()),
      attempts: 0,
      payload: payloads.get(delivery.event_id) ?? '',
    });
  });
  return { inserted: new Set(row?.inserted ?? []), claimed, unclaimed: row?.unclaimed ?? 0, attempts: recordedAttemptsOf(row) };
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
