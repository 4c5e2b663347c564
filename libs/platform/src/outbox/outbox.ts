import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsNames, PlatformEvent } from '@paynet/contracts';
import { DataSource, EntityManager, type EntitySubscriberInterface, type QueryRunner } from 'typeorm';
import { PeriodicTask, Sweeper } from '../bootstrap/periodic-task.js';
import { type BaseConfig, CONFIG } from '../config/config.js';
import { SqlParameters } from '../database/sql-parameters.js';
import { ensureEventsStream } from '../nats/jetstream.js';
import { NATS_CONNECTION, NATS_NAMES } from '../nats/nats-connection.js';
import { outbox_fallback_published_total, outbox_lag_seconds, outbox_published_total } from '../observability/metrics.js';
import { toJsonText } from '../validation/json-numbers.js';
import { setPublishedAfterCommit } from './after-commit.js';

/**
 * Transactional outbox: an event is written in the same transaction as the
 * change it reports. The process that committed it publishes it to
 * JetStream right after the commit (OutboxPublisher), with Nats-Msg-Id =
 * event id, and marks it published later, in one statement for everything it
 * published in a second. A row a crash left unpublished or unmarked is
 * published again by any replica's fallback once it is a few seconds old;
 * the broker drops a copy it already has (duplicate window).
 */
export const outbox_table_sql = `
CREATE TABLE outbox (
  seq          bigserial   PRIMARY KEY,
  event_id     text        NOT NULL UNIQUE,
  type         text        NOT NULL,
  payload      text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
`;

/** Published rows by age, for OutboxPruner (a migration of each service with an outbox). */
export const outbox_published_index_sql = 'CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL';

/** Events published together (acks awaited together), and rows the fallback reads at a time. */
export const outbox_batch_max = 256;
export const outbox_publish_timeout_ms = 5_000;
/** How often a replica marks what it published, in one statement that also looks for rows left behind (see OutboxPublisher.tick). */
export const outbox_mark_interval_ms = 1_000;
/** Ids marked per statement. */
export const outbox_mark_batch_max = 2_048;
/**
 * A row still unmarked this long after it was written was left behind (its
 * process died between commit and mark, or NATS was away): the fallback
 * publishes it. Far inside the stream's duplicate window, so a copy of an
 * event published but not yet marked is dropped by the broker.
 */
export const outbox_fallback_age_ms = 5_000;
/** Events waiting in a process for their publish; past this, new ones are left to the fallback (NATS away for long). */
export const outbox_queue_max = 10_000;
/** Ids published and waiting to be marked; past this, the oldest are forgotten (the fallback publishes them again, the broker drops the copies). */
const outbox_marks_max = 100_000;
/** How long a request waits for its events' acks before it answers anyway (NATS slow or away: the events still go, later). */
export const outbox_answer_wait_max_ms = 1_000;
/** A failed publish is tried again after this, doubling up to outbox_mark_interval_ms. */
const outbox_retry_first_ms = 50;

/** One outbox row as published: the subject's type, the JSON payload (exact bigints), the id JetStream deduplicates by. */
interface OutboxMessage {
  event_id: string;
  type: string;
  payload: string;
}

/** Each event's row, made once (the INSERT's parameters and the publish share it). */
const messages = new WeakMap<PlatformEvent, OutboxMessage>();

function messageOf(event: PlatformEvent): OutboxMessage {
  let message = messages.get(event);
  if (!message) {
    message = { event_id: event.id, type: event.type, payload: toJsonText(event) };
    messages.set(event, message);
  }
  return message;
}

/** Events written in a transaction, published when it commits; none if any part of it rolled back. */
interface PendingEvents {
  messages: OutboxMessage[];
  rolled_back: boolean;
}
const pending_by_transaction = new WeakMap<QueryRunner, PendingEvents>();

/** An event waiting in this process for its publish. */
interface Queued extends OutboxMessage {
  queued_at_ms: number;
  /** On the last event of a transaction: its request may answer. */
  done?: () => void;
}

interface LeftBehind extends OutboxMessage {
  age_seconds: number;
}

/**
 * Publishes each service's events from the process that committed them,
 * right after the commit, in one queue per process: the events of a
 * transaction in their order, transactions in the order their commits came
 * back (two changes of one intent or one wallet commit one after the other,
 * the second waiting for the first's row lock, so this is their order). One
 * batch at a time is in flight on the one NATS connection: whatever queued
 * while the previous batch awaited its acks goes next, in order. A failed
 * batch is tried again, before anything behind it.
 *
 * The rows are marked published (`published_at`) once a second, in one
 * statement that also reads rows left behind: unmarked and older than
 * outbox_fallback_age_ms (their process died after the commit, or NATS
 * was away). Those are published again by this fallback, in `seq` order, on
 * whichever replica looks first; an event already on the stream is dropped
 * by JetStream's duplicate window (Nats-Msg-Id = event id).
 *
 * No LISTEN/NOTIFY and no relay transaction: a payment's events cost no
 * statement of their own beyond their INSERT, bar a share of the marks.
 */
@Injectable()
export class OutboxPublisher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxPublisher.name);
  private js: JetStreamClient | undefined;
  private readonly queue: Queued[] = [];
  /** Ids on the stream, not yet marked. */
  private published: string[] = [];
  private draining: Promise<void> | undefined;
  private retry_ms = outbox_retry_first_ms;
  private stopping = false;
  /** When the fallback last looked for rows left behind. */
  private last_look_ms = 0;
  /** Rows left behind were published at boot: the queue may go. */
  private ready = false;
  private readonly marker: PeriodicTask;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
  ) {
    this.marker = new PeriodicTask('outbox marks', outbox_mark_interval_ms, () => this.tick());
    const hook: EntitySubscriberInterface = {
      afterTransactionCommit: ({ queryRunner }) => this.committed(queryRunner),
      afterTransactionRollback: ({ queryRunner }) => this.rolledBack(queryRunner),
    };
    // Subscribers are read at each broadcast: one added after the data source initialised is heard.
    this.dataSource.subscribers.push(hook);
  }

  /**
   * Publishes every unmarked row first, whatever its age (a crash of this
   * service left them, or another replica is publishing them: the stream
   * drops copies), so they come before this process's own events; a commit
   * meanwhile waits in the queue.
   */
  async onApplicationBootstrap(): Promise<void> {
    await ensureEventsStream(this.nc, this.names);
    this.js = jetstream(this.nc);
    await this.markAndRecover(0).catch((error: unknown) => this.logger.warn({ err: error }, 'outbox: rows left behind not published at boot; the fallback tries again'));
    this.ready = true;
    this.kick();
    this.marker.start();
  }

  /** Publishes what is queued, marks it, and stops: before the NATS connection drains (NatsConnectionCloser). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.marker.stop();
    while (this.draining) await this.draining;
    await this.markPublished().catch((error: unknown) => this.logger.warn({ err: error }, 'outbox marks failed at shutdown; the fallback publishes those events again'));
  }

  /**
   * Events the caller's statement wrote: published once its transaction
   * commits (withTransaction awaits that before it answers), or at once if
   * the statement was its own transaction (no transaction open on
   * `manager`, or no manager). A rolled-back transaction publishes nothing.
   * Resolves when they are acked, or after outbox_answer_wait_max_ms;
   * never rejects: an event not published now is in the outbox, and the
   * fallback publishes it.
   */
  publishAfterCommit(manager: EntityManager | undefined, events: readonly PlatformEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const runner = manager?.queryRunner;
    if (runner?.isTransactionActive) {
      const pending = pending_by_transaction.get(runner);
      if (pending) pending.messages.push(...events.map(messageOf));
      else pending_by_transaction.set(runner, { messages: events.map(messageOf), rolled_back: false });
      return Promise.resolve();
    }
    return this.enqueue(events.map(messageOf));
  }

  /** One mark-and-fallback pass, as the periodic task runs it: answers how many rows left behind (unmarked `age_ms` after they were written) it published. Public for tests. */
  async markAndRecover(age_ms = outbox_fallback_age_ms): Promise<number> {
    let recovered = 0;
    for (;;) {
      const marks = this.published.splice(0, outbox_mark_batch_max);
      let rows: LeftBehind[];
      try {
        // Marks and the fallback's look in one statement. The look's snapshot predates the marks: it skips them by id.
        rows = await this.dataSource.query(
          `WITH marked AS (UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::text[]) AND published_at IS NULL)
           SELECT event_id, type, payload, extract(epoch FROM now() - created_at)::float8 AS age_seconds FROM outbox
           WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $2) AND event_id <> ALL($1::text[])
           ORDER BY seq LIMIT $3`,
          [marks, age_ms / 1000, outbox_batch_max],
        );
      } catch (error) {
        this.published = marks.concat(this.published);
        throw error;
      }
      if (rows.length > 0) {
        await this.publishBatch(rows);
        this.published.push(...rows.map((row) => row.event_id));
        outbox_fallback_published_total.inc(rows.length);
        outbox_lag_seconds.set(rows[0]?.age_seconds ?? 0);
        recovered += rows.length;
      }
      if ((rows.length < outbox_batch_max && this.published.length < outbox_mark_batch_max) || this.stopping) return recovered;
    }
  }

  /**
   * The periodic pass: marks and a look for rows left behind when there is
   * something to mark, else the look alone once per outbox_fallback_age_ms
   * (an idle service costs one statement per 5 s, not per second).
   */
  private async tick(): Promise<number> {
    if (this.published.length === 0 && Date.now() - this.last_look_ms < outbox_fallback_age_ms) return 0;
    this.last_look_ms = Date.now();
    return this.markAndRecover();
  }

  /** Everything marked that was published so far. Public for tests. */
  async markPublished(): Promise<void> {
    while (this.published.length > 0) {
      const marks = this.published.splice(0, outbox_mark_batch_max);
      await this.dataSource.query('UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::text[]) AND published_at IS NULL', [marks]).catch((error: unknown) => {
        this.published = marks.concat(this.published);
        throw error;
      });
    }
  }

  private committed(runner: QueryRunner): void {
    // A savepoint's release is not the commit.
    if (runner.isTransactionActive) return;
    const pending = pending_by_transaction.get(runner);
    if (!pending) return;
    pending_by_transaction.delete(runner);
    // Part of it rolled back (a savepoint): its rows are as committed, and the fallback reads them.
    if (pending.rolled_back) return;
    setPublishedAfterCommit(runner, this.enqueue(pending.messages));
  }

  private rolledBack(runner: QueryRunner): void {
    const pending = pending_by_transaction.get(runner);
    if (!pending) return;
    if (runner.isTransactionActive) pending.rolled_back = true;
    else pending_by_transaction.delete(runner);
  }

  /** Queues committed events; resolves when they are acked, or after outbox_answer_wait_max_ms. */
  private enqueue(rows: OutboxMessage[]): Promise<void> {
    if (this.queue.length + rows.length > outbox_queue_max || this.stopping) return Promise.resolve();
    const queued_at_ms = Date.now();
    const acked = new Promise<void>((resolve) => {
      rows.forEach((row, index) => this.queue.push({ ...row, queued_at_ms, done: index === rows.length - 1 ? resolve : undefined }));
    });
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, outbox_answer_wait_max_ms)));
    return Promise.race([acked, waited]).finally(() => clearTimeout(timer));
  }

  /** Starts draining the queue unless it already is. */
  private kick(): void {
    if (this.draining || !this.ready) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // Queued between the drain's last look and now.
      if (this.queue.length > 0) this.kick();
    });
  }

  /** Publishes the queue in order, a batch at a time, until it is empty. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, outbox_batch_max);
      try {
        await this.publishBatch(batch);
      } catch (error) {
        if (this.stopping) {
          this.logger.warn({ err: error }, 'outbox publish failed while stopping; the fallback publishes the rest');
          this.giveUp(this.queue.length);
          return;
        }
        this.logger.warn({ err: error }, `outbox publish failed; trying again in ${this.retry_ms} ms`);
        await new Promise((resolve) => setTimeout(resolve, this.retry_ms));
        this.retry_ms = Math.min(this.retry_ms * 2, outbox_mark_interval_ms);
        continue;
      }
      this.retry_ms = outbox_retry_first_ms;
      this.queue.splice(0, batch.length);
      this.published.push(...batch.map((row) => row.event_id));
      if (this.published.length > outbox_marks_max) this.published.splice(0, this.published.length - outbox_marks_max);
      outbox_lag_seconds.set((Date.now() - (batch[0]?.queued_at_ms ?? Date.now())) / 1000);
      for (const row of batch) row.done?.();
    }
  }

  /** Drops the first `count` queued events (they are in the outbox: the fallback publishes them), letting their requests answer. */
  private giveUp(count: number): void {
    for (const row of this.queue.splice(0, count)) row.done?.();
  }

  /** Publishes rows in order on one connection, acks awaited together; rejects if any failed. */
  private async publishBatch(rows: readonly OutboxMessage[]): Promise<void> {
    const js = this.js;
    if (!js) throw new Error('outbox: publishing before the events stream is ensured');
    await Promise.all(
      rows.map((row) => js.publish(this.names.eventSubject(row.type), row.payload, { msgID: row.event_id, timeout: outbox_publish_timeout_ms })),
    );
    outbox_published_total.inc(rows.length);
  }
}

@Injectable()
export class OutboxWriter {
  constructor(private readonly publisher: OutboxPublisher) {}

  /** Adds events inside the caller's transaction, in one statement; they are published when it commits. */
  async add(manager: EntityManager, events: readonly PlatformEvent[]): Promise<void> {
    if (events.length === 0) return;
    const parameters = new SqlParameters();
    await manager.query(`WITH ${this.insertCte(events, parameters)} SELECT 1`, parameters.values);
    await this.publisher.publishAfterCommit(manager, events);
  }

  /**
   * The events' INSERT as a CTE (`outbox_added AS (...)`) for a statement
   * that does a request's whole change at once: the caller puts it in its
   * WITH list. With `when` (a SQL condition, e.g. `EXISTS (SELECT 1 FROM
   * updated)`) the events are written only if it holds, so an event exists
   * exactly when the change it reports does. Once the caller knows they
   * were written, it hands them to publishAfterCommit.
   */
  insertCte(events: readonly PlatformEvent[], parameters: SqlParameters, when = 'true'): string {
    const [ids, types, payloads] = outboxParams(events).map((value) => parameters.add(value));
    return outboxInsertCte('outbox_added', { ids, types, payloads }, when);
  }

  /** See OutboxPublisher.publishAfterCommit: for events an insertCte statement wrote. */
  publishAfterCommit(manager: EntityManager | undefined, events: readonly PlatformEvent[]): Promise<void> {
    return this.publisher.publishAfterCommit(manager, events);
  }
}

/**
 * The one INSERT both writers use, as a CTE named `name`: the events in
 * their order (WITH ORDINALITY), only when the SQL condition `when` holds,
 * returning a row per event written. A data-modifying CTE runs whether or
 * not the statement reads it.
 */
function outboxInsertCte(name: string, p: { ids: string; types: string; payloads: string }, when: string): string {
  return `${name} AS (
      INSERT INTO outbox (event_id, type, payload)
      SELECT e.event_id, e.type, e.payload FROM unnest(${p.ids}::text[], ${p.types}::text[], ${p.payloads}::text[]) WITH ORDINALITY AS e(event_id, type, payload, n)
      WHERE ${when} ORDER BY e.n
      RETURNING 1)`;
}

/** The values of the INSERT's three parameters. Payloads are JSON with bigints as their exact digits. */
function outboxParams(events: readonly PlatformEvent[]): [string[], string[], string[]] {
  const rows = events.map(messageOf);
  return [rows.map((row) => row.event_id), rows.map((row) => row.type), rows.map((row) => row.payload)];
}

/**
 * Outbox rows written by the caller's own statement, beside the change they
 * report (CTEs in its WITH list), so they cost no round trip: for a write path
 * that already is one statement (accounts' transfer batches). Same rows, same
 * publisher as OutboxWriter.add.
 */
@Injectable()
export class OutboxStatement {
  constructor(private readonly publisher: OutboxPublisher) {}

  /**
   * The CTE `outbox_rows` for a WITH list, taking parameters `$first_param`
   * to `$first_param + 2` (`params`): the same INSERT as OutboxWriter's, when
   * the SQL condition `when` holds (say, that the statement's own writes
   * went through).
   */
  ctes(first_param: number, when = 'true'): string {
    const [ids, types, payloads] = [0, 1, 2].map((offset) => `$${first_param + offset}`) as [string, string, string];
    return outboxInsertCte('outbox_rows', { ids, types, payloads }, when);
  }

  /** For the final SELECT: how many events were written. */
  readonly columns = '(SELECT count(*) FROM outbox_rows) AS outbox_rows';

  /** The three parameters of `ctes`, in order. */
  params(events: readonly PlatformEvent[]): [string[], string[], string[]] {
    return outboxParams(events);
  }

  /** Once the statement wrote them: see OutboxPublisher.publishAfterCommit. */
  written(manager: EntityManager, events: readonly PlatformEvent[]): Promise<void> {
    return this.publisher.publishAfterCommit(manager, events);
  }
}

/** Published rows deleted per statement: short statements, no long lock on the table. */
export const outbox_prune_batch_max = 1_000;
export const outbox_prune_interval_ms = 60_000;

/**
 * Deletes outbox rows published more than OUTBOX_RETENTION_SECONDS ago, on
 * every replica (they share the work with SKIP LOCKED), a batch at a time
 * until a batch comes back short: the table holds the recent events and the
 * unpublished ones, never all of history. A row not yet published is never
 * deleted, however old.
 */
@Injectable()
export class OutboxPruner extends Sweeper {
  private readonly retention_seconds: number;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) config: BaseConfig,
  ) {
    super('outbox prune', outbox_prune_interval_ms);
    this.retention_seconds = config.OUTBOX_RETENTION_SECONDS;
  }

  /** One tick: batches one after another until one is short or the app stops; answers how many rows went. */
  async sweepOnce(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const [, count] = (await this.dataSource.query(
        `DELETE FROM outbox WHERE seq IN (
           SELECT seq FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)
           ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [this.retention_seconds, outbox_prune_batch_max],
      )) as [unknown, number];
      deleted += count;
      if (count < outbox_prune_batch_max || this.task.stopping) return deleted;
    }
  }
}
