import { IdPrefix, newId } from '@paynet/contracts';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { AttemptOutcome, DeliveryStatus } from './retry-schedule.js';

/** SQL for webhook_deliveries; rules live in retry-schedule.ts and the worker. */

export type DeliveryOrigin = 'event' | 'redeliver';

export interface DeliveryRow {
  seq: string;
  id: string;
  event_id: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  /** Unix seconds, rounded up; null unless pending. */
  next_attempt_at: string | null;
}

/** A delivery this replica holds for one attempt; `claim_id` fences a claim that ran out. */
export interface ClaimedDelivery {
  id: string;
  claim_id: string;
  event_id: string;
  merchant_id: string;
  /** Null on deliveries made before endpoints: they go to the merchant's first endpoint. */
  endpoint_id: string | null;
  /** Unix ms. */
  created_ms: string;
  attempts: number;
  payload: string;
}

const delivery_columns = `seq, id, event_id, url, status, attempts, last_status_code,
  ceil(extract(epoch FROM next_attempt_at))::bigint AS next_attempt_at`;

export interface NewDelivery {
  event_id: string;
  merchant_id: string;
  endpoint_id: string;
  url: string;
}

/**
 * Creates pending deliveries due now, in one statement; an event's delivery
 * to an endpoint made already is not made again. A delivery is made only
 * with its event: the statement joins the event row and locks it as a
 * foreign key would (`FOR KEY SHARE`: the retention sweeper skips it), so
 * an event swept meanwhile gets none.
 */
export async function insertDeliveries(manager: EntityManager, deliveries: readonly NewDelivery[], origin: DeliveryOrigin): Promise<DeliveryRow[]> {
  if (deliveries.length === 0) return [];
  return manager.query(
    `INSERT INTO webhook_deliveries (id, event_id, merchant_id, endpoint_id, url, origin, status, attempts, next_attempt_at)
     SELECT d.id, d.event_id, d.merchant_id, d.endpoint_id, d.url, $6, 'pending', 0, now()
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS d (id, event_id, merchant_id, endpoint_id, url)
     JOIN events e ON e.id = d.event_id
     FOR KEY SHARE OF e
     ON CONFLICT (event_id, endpoint_id) WHERE origin = 'event' DO NOTHING
     RETURNING ${delivery_columns}`,
    [
      deliveries.map(() => newId(IdPrefix.delivery)),
      deliveries.map((delivery) => delivery.event_id),
      deliveries.map((delivery) => delivery.merchant_id),
      deliveries.map((delivery) => delivery.endpoint_id),
      deliveries.map((delivery) => delivery.url),
      origin,
    ],
  );
}

export interface ClaimRequest {
  limit: number;
  /** Merchants already at their in-flight bound on this replica. */
  busy_merchants: readonly string[];
  per_merchant_max: number;
  /** Candidates looked at per claim, so a large backlog costs a bounded scan. */
  candidates_max: number;
  lease_ms: number;
}

/**
 * Claims due deliveries, at most `per_merchant_max` per merchant (however
 * many endpoints or URL variants it has), skipping
 * rows other replicas hold, and pushes their next_attempt_at forward by the
 * lease: if this replica dies mid-attempt, the row becomes due again. One
 * statement, so no transaction stays open while the HTTP call runs.
 */
export async function claimDueDeliveries(manager: EntityManager, request: ClaimRequest): Promise<ClaimedDelivery[]> {
  const claim_id = randomUUID();
  // TypeORM answers an UPDATE as [rows, affected].
  const [rows] = (await manager.query(
    `WITH due AS (
       SELECT id, merchant_id, next_attempt_at, seq FROM webhook_deliveries
       WHERE status = 'pending' AND next_attempt_at <= now() AND NOT (merchant_id = ANY($1::text[]))
       ORDER BY next_attempt_at LIMIT $2
     ), ranked AS (
       SELECT id, next_attempt_at, row_number() OVER (PARTITION BY merchant_id ORDER BY next_attempt_at, seq) AS merchant_rank FROM due
     ), picked AS (
       SELECT d.id FROM webhook_deliveries d JOIN ranked r ON r.id = d.id
       WHERE r.merchant_rank <= $3 AND d.status = 'pending' AND d.next_attempt_at <= now()
       ORDER BY r.next_attempt_at LIMIT $4
       FOR UPDATE OF d SKIP LOCKED
     )
     UPDATE webhook_deliveries d
     SET next_attempt_at = now() + make_interval(secs => $5::double precision), claim_id = $6, updated_at = now()
     FROM picked, events e
     WHERE d.id = picked.id AND e.id = d.event_id
     RETURNING d.id, d.event_id, d.merchant_id, d.endpoint_id, floor(extract(epoch FROM d.created_at) * 1000)::bigint AS created_ms, d.attempts, e.payload`,
    [request.busy_merchants, request.candidates_max, request.per_merchant_max, request.limit, request.lease_ms / 1_000, claim_id],
  )) as [Omit<ClaimedDelivery, 'claim_id'>[], number];
  return rows.map((row) => ({ ...row, claim_id }));
}

/** One attempt to record: the claim it ran under, the URL it went to, and its outcome. */
export interface AttemptRecord {
  claim: ClaimedDelivery;
  url: string;
  outcome: AttemptOutcome;
}

/**
 * What an endpoint's attempts in one batch say of its health, in the order
 * they finished: its last succeeded; one succeeded, then it failed (failing
 * from now); or only failures (failing since it was already, or from now).
 */
export type EndpointHealthUpdate = {
  endpoint_id: string;
  merchant_id: string;
  state: 'succeeded' | 'failed_after_success' | 'failed';
  /** When the endpoint was last enabled (Unix ms): failures before it do not count. */
  enabled_since_ms: number | null;
};

/** What recording a batch of attempts answers: the deliveries recorded and, per endpoint, for how long it has only failed (null: its last attempt succeeded). */
export interface RecordedAttempts {
  recorded: ReadonlySet<string>;
  failing_ms: ReadonlyMap<string, number | null>;
}

/**
 * The common table expressions that record a batch of attempts (each only if
 * its claim is still ours: a claim whose lease ran out may have been taken
 * over) and their endpoints' health, numbered from `$first_param`: `recorded`
 * answers the delivery ids recorded, `health` each endpoint's failing_ms.
 * Shared by recordAttempts and by the recorder's statement, which carries the
 * outcomes waiting for a record with its events (events.repository.ts).
 */
export function attemptsCtes(
  attempts: readonly AttemptRecord[],
  health: readonly EndpointHealthUpdate[],
  first_param: number,
): { sql: string; params: unknown[] } {
  const $ = (index: number) => `$${first_param + index - 1}`;
  const sql = `attempt AS (
       SELECT * FROM unnest(${$(1)}::text[], ${$(2)}::uuid[], ${$(3)}::text[], ${$(4)}::int[], ${$(5)}::int[], ${$(6)}::text[], ${$(7)}::double precision[], ${$(8)}::text[])
         AS a (id, claim_id, status, attempts, last_status_code, last_error, retry_after_s, url)
     ), recorded AS (
       UPDATE webhook_deliveries d
       SET status = a.status, attempts = a.attempts, last_status_code = a.last_status_code, last_error = a.last_error,
           claim_id = NULL, updated_at = now(), url = a.url,
           next_attempt_at = CASE WHEN a.status = 'pending' THEN now() + make_interval(secs => a.retry_after_s) END
       FROM attempt a
       WHERE d.id = a.id AND d.claim_id = a.claim_id AND d.status = 'pending'
       RETURNING d.id
     ), judged AS (
       SELECT * FROM unnest(${$(9)}::text[], ${$(10)}::text[], ${$(11)}::text[], ${$(12)}::double precision[]) AS j (endpoint_id, merchant_id, state, enabled_since_ms)
     ), current AS (
       -- Locked in one order, so replicas recording the same endpoints wait for each other instead of deadlocking.
       SELECT h.endpoint_id, h.failing_since FROM webhook_endpoint_health h
       WHERE h.endpoint_id IN (SELECT endpoint_id FROM judged) ORDER BY h.endpoint_id FOR UPDATE
     ), health AS (
       INSERT INTO webhook_endpoint_health AS h (endpoint_id, merchant_id, failing_since)
       SELECT j.endpoint_id, j.merchant_id, CASE j.state
           WHEN 'succeeded' THEN NULL
           WHEN 'failed_after_success' THEN now()
           ELSE greatest(coalesce(c.failing_since, now()), to_timestamp(j.enabled_since_ms / 1000.0)) END
       FROM judged j LEFT JOIN current c ON c.endpoint_id = j.endpoint_id
       ON CONFLICT (endpoint_id) DO UPDATE SET failing_since = EXCLUDED.failing_since
       RETURNING endpoint_id, floor(extract(epoch FROM now() - failing_since) * 1000)::bigint AS failing_ms
     )`;
  const params = [
    attempts.map(({ claim }) => claim.id),
    attempts.map(({ claim }) => claim.claim_id),
    attempts.map(({ outcome }) => outcome.status),
    attempts.map(({ outcome }) => outcome.attempts),
    attempts.map(({ outcome }) => outcome.last_status_code),
    attempts.map(({ outcome }) => outcome.last_error),
    attempts.map(({ outcome }) => (outcome.retry_after_ms ?? 0) / 1_000),
    attempts.map(({ url }) => url),
    health.map((update) => update.endpoint_id),
    health.map((update) => update.merchant_id),
    health.map((update) => update.state),
    health.map((update) => update.enabled_since_ms),
  ];
  return { sql, params };
}

/** The select list that answers what attemptsCtes recorded, as two columns of one row (see recordedAttemptsOf). */
export const recorded_attempts_columns = `(SELECT array_agg(id) FROM recorded) AS recorded_deliveries,
  (SELECT json_agg(json_build_array(endpoint_id, failing_ms)) FROM health) AS endpoint_health`;

/** The row recorded_attempts_columns answers. */
export interface RecordedAttemptsRow {
  recorded_deliveries: string[] | null;
  /** [endpoint_id, failing_ms]; failing_ms is a bigint that JSON gives as a number (milliseconds, far below 2^53). */
  endpoint_health: [string, number | null][] | null;
}

export function recordedAttemptsOf(row: RecordedAttemptsRow | undefined): RecordedAttempts {
  return {
    recorded: new Set(row?.recorded_deliveries ?? []),
    failing_ms: new Map(row?.endpoint_health ?? []),
  };
}

/** Records a batch of attempts and their endpoints' health in one statement (attemptsCtes). */
export async function recordAttempts(
  manager: EntityManager,
  attempts: readonly AttemptRecord[],
  health: readonly EndpointHealthUpdate[],
): Promise<RecordedAttempts> {
  if (attempts.length === 0 && health.length === 0) return { recorded: new Set(), failing_ms: new Map() };
  const ctes = attemptsCtes(attempts, health, 1);
  const rows: RecordedAttemptsRow[] = await manager.query(`WITH ${ctes.sql} SELECT ${recorded_attempts_columns}`, ctes.params);
  return recordedAttemptsOf(rows[0]);
}

/**
 * Endpoints that are off: none of their deliveries made before
 * `created_before_ms` (Infinity: all of them) gets another attempt.
 */
export async function failPendingOfEndpoints(manager: EntityManager, endpoints: readonly { id: string; created_before_ms: number }[], reason: string): Promise<void> {
  await manager.query(
    `UPDATE webhook_deliveries d SET status = 'failed', next_attempt_at = NULL, claim_id = NULL, last_error = $3, updated_at = now()
     FROM unnest($1::text[], $2::double precision[]) AS off (endpoint_id, created_before_ms)
     WHERE d.endpoint_id = off.endpoint_id AND d.status = 'pending' AND d.created_at < to_timestamp(off.created_before_ms / 1000.0)`,
    [endpoints.map((endpoint) => endpoint.id), endpoints.map((endpoint) => endpoint.created_before_ms), reason],
  );
}

/** The endpoints of a merchant's pending deliveries, to ask merchants whether they are still on. */
export async function pendingEndpointsOf(manager: EntityManager, merchant_id: string, max: number): Promise<string[]> {
  const rows: { endpoint_id: string }[] = await manager.query(
    `SELECT DISTINCT endpoint_id FROM webhook_deliveries WHERE merchant_id = $1 AND status = 'pending' AND endpoint_id IS NOT NULL LIMIT $2`,
    [merchant_id, max],
  );
  return rows.map((row) => row.endpoint_id);
}

/**
 * Takes one redelivery from the merchant's budget for the current window
 * (a fixed window; the row lock orders concurrent requests). Answers the
 * milliseconds until the window ends when the budget is spent, else null.
 */
export async function takeRedeliveryBudget(manager: EntityManager, merchant_id: string, per_window: number, window_ms: number): Promise<number | null> {
  const rows: { used: number; left_ms: string }[] = await manager.query(
    `INSERT INTO webhook_redelivery_budget AS b (merchant_id, window_start, used) VALUES ($1, clock_timestamp(), 1)
     ON CONFLICT (merchant_id) DO UPDATE SET
       window_start = CASE WHEN b.window_start <= clock_timestamp() - make_interval(secs => $2) THEN clock_timestamp() ELSE b.window_start END,
       used = CASE WHEN b.window_start <= clock_timestamp() - make_interval(secs => $2) THEN 1 ELSE b.used + 1 END
     RETURNING used, ceil(extract(epoch FROM window_start + make_interval(secs => $2) - clock_timestamp()) * 1000)::bigint AS left_ms`,
    [merchant_id, window_ms / 1_000],
  );
  const row = rows[0];
  if (row === undefined || row.used <= per_window) return null;
  return Math.max(1, Number(row.left_ms));
}

/** Gives a claim back without counting an attempt (we could not sign it: our side, not the endpoint's). */
export async function releaseClaim(manager: EntityManager, claim: ClaimedDelivery, retry_after_ms: number, reason: string): Promise<void> {
  await manager.query(
    `UPDATE webhook_deliveries
     SET claim_id = NULL, last_error = $3, updated_at = now(), next_attempt_at = now() + make_interval(secs => $4::double precision)
     WHERE id = $1 AND claim_id = $2 AND status = 'pending'`,
    [claim.id, claim.claim_id, reason, retry_after_ms / 1_000],
  );
}

/** Ends a delivery that can never succeed (the merchant or its endpoint is gone), without an attempt. */
export async function abandonClaim(manager: EntityManager, claim: ClaimedDelivery, reason: string): Promise<void> {
  await manager.query(
    `UPDATE webhook_deliveries
     SET status = 'failed', claim_id = NULL, last_error = $3, updated_at = now(), next_attempt_at = NULL
     WHERE id = $1 AND claim_id = $2 AND status = 'pending'`,
    [claim.id, claim.claim_id, reason],
  );
}

export async function listDeliveries(
  manager: EntityManager,
  filter: { merchant_id: string; event_id?: string; before_seq?: string; limit: number },
): Promise<DeliveryRow[]> {
  return manager.query(
    `SELECT ${delivery_columns} FROM webhook_deliveries
     WHERE merchant_id = $1 AND ($2::text IS NULL OR event_id = $2) AND ($3::bigint IS NULL OR seq < $3)
     ORDER BY seq DESC LIMIT $4`,
    [filter.merchant_id, filter.event_id ?? null, filter.before_seq ?? null, filter.limit],
  );
}

export async function deliverySeq(manager: EntityManager, merchant_id: string, id: string): Promise<string | undefined> {
  const rows: { seq: string }[] = await manager.query('SELECT seq FROM webhook_deliveries WHERE id = $1 AND merchant_id = $2', [id, merchant_id]);
  return rows[0]?.seq;
}
