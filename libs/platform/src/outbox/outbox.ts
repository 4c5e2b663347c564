import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsNames, PlatformEvent } from '@paynet/contracts';
import pg from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { SqlParameters } from '../database/sql-parameters.js';
import { ensureEventsStream } from '../nats/jetstream.js';
import { NATS_CONNECTION, NATS_NAMES } from '../nats/nats-connection.js';
import { outbox_published_total, outbox_lag_seconds } from '../observability/metrics.js';
import { toJsonText } from '../validation/json-numbers.js';

/**
 * Transactional outbox: an event is written in the same transaction as the
 * change it reports, and a relay publishes it to JetStream afterwards with
 * Nats-Msg-Id = event id, so a crash between the two re-publishes and the
 * broker drops the duplicate. One relay at a time (advisory lock) keeps the
 * stream in commit order.
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

export const outbox_batch_max = 256;
export const outbox_poll_interval_ms = 500;
export const outbox_publish_timeout_ms = 5_000;

export const OUTBOX_SETTINGS = Symbol('OUTBOX_SETTINGS');
export interface OutboxSettings {
  schema: string;
  database_url: string;
}

function channelOf(schema: string): string {
  return `outbox_${schema}`;
}

@Injectable()
export class OutboxWriter {
  constructor(@Inject(OUTBOX_SETTINGS) private readonly settings: OutboxSettings) {}

  /** Adds events inside the caller's transaction, in one statement; the relay is woken when it commits. */
  async add(manager: EntityManager, events: readonly PlatformEvent[]): Promise<void> {
    if (events.length === 0) return;
    const parameters = new SqlParameters();
    await manager.query(`WITH ${this.insertCte(events, parameters)} SELECT 1`, parameters.values);
  }

  /**
   * The events' INSERT as a CTE (`outbox_added AS (...)`) for a statement
   * that does a request's whole change at once: the caller puts it in its
   * WITH list. With `when` (a SQL condition, e.g. `EXISTS (SELECT 1 FROM
   * updated)`) the events are written only if it holds, so an event exists
   * exactly when the change it reports does. Each inserted row also signals
   * the relay's channel: NOTIFY is delivered at commit, only if it commits,
   * and once per transaction for identical payloads.
   */
  insertCte(events: readonly PlatformEvent[], parameters: SqlParameters, when = 'true'): string {
    const [ids, types, payloads, channel] = outboxParams(events, this.settings.schema).map((value) => parameters.add(value));
    return outboxInsertCte('outbox_added', { ids, types, payloads, channel }, when);
  }
}

/**
 * The one INSERT both writers use, as a CTE named `name`: the events in
 * their order (WITH ORDINALITY), only when the SQL condition `when` holds,
 * each inserted row signalling the relay's channel. A data-modifying CTE
 * runs whether or not the statement reads it, and NOTIFY is delivered at
 * commit, only if it commits, once per transaction for identical payloads.
 */
function outboxInsertCte(name: string, p: { ids: string; types: string; payloads: string; channel: string }, when: string): string {
  return `${name} AS (
      INSERT INTO outbox (event_id, type, payload)
      SELECT e.event_id, e.type, e.payload FROM unnest(${p.ids}::text[], ${p.types}::text[], ${p.payloads}::text[]) WITH ORDINALITY AS e(event_id, type, payload, n)
      WHERE ${when} ORDER BY e.n
      RETURNING pg_notify(${p.channel}::text, ''))`;
}

/** The values of the INSERT's four parameters. Payloads are JSON with bigints as their exact digits. */
function outboxParams(events: readonly PlatformEvent[], schema: string): [string[], string[], string[], string] {
  return [events.map((event) => event.id), events.map((event) => event.type), events.map((event) => toJsonText(event)), channelOf(schema)];
}

/**
 * Outbox rows written by the caller's own statement, beside the change they
 * report (CTEs in its WITH list), so they cost no round trip: for a write path
 * that already is one statement (accounts' transfer batches). Same rows, same
 * relay, same wake-up as OutboxWriter.add.
 */
@Injectable()
export class OutboxStatement {
  constructor(@Inject(OUTBOX_SETTINGS) private readonly settings: OutboxSettings) {}

  /**
   * The CTE `outbox_rows` for a WITH list, taking parameters `$first_param`
   * to `$first_param + 3` (`params`): the same INSERT as OutboxWriter's, when
   * the SQL condition `when` holds (say, that the statement's own writes
   * went through).
   */
  ctes(first_param: number, when = 'true'): string {
    const [ids, types, payloads, channel] = [0, 1, 2, 3].map((offset) => `$${first_param + offset}`) as [string, string, string, string];
    return outboxInsertCte('outbox_rows', { ids, types, payloads, channel }, when);
  }

  /** For the final SELECT: how many events were written. */
  readonly columns = '(SELECT count(*) FROM outbox_rows) AS outbox_rows';

  /** The four parameters of `ctes`, in order. */
  params(events: readonly PlatformEvent[]): [string[], string[], string[], string] {
    return outboxParams(events, this.settings.schema);
  }
}

interface OutboxRow {
  seq: string;
  event_id: string;
  type: string;
  payload: string;
  age_seconds: number;
}

@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private js!: JetStreamClient;
  private listener: pg.Client | undefined;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  /** A commit was notified since the relay last looked: it looks again at once instead of sleeping. */
  private woken = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
    @Inject(OUTBOX_SETTINGS) private readonly settings: OutboxSettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await ensureEventsStream(this.nc, this.names);
    this.js = jetstream(this.nc);
    await this.listen();
    this.loop = this.run();
  }

  /** Stops before the NATS connection drains (NatsConnectionCloser). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    await this.listener?.end().catch(() => undefined);
  }

  /** Publishes one batch; answers how many were published. Public for tests. */
  async relayOnce(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      // The lock and the read in one statement: one round trip less between a commit and its event on the stream.
      // No rows when another relay holds the lock (it publishes them). The read's snapshot may predate the lock by
      // the statement's start: rows another relay published just then go out again, and JetStream drops them by id.
      const rows: OutboxRow[] = await manager.query(
        `WITH relay AS (SELECT pg_try_advisory_xact_lock(hashtext($2)) AS locked)
         SELECT seq, event_id, type, payload, extract(epoch FROM now() - created_at)::float8 AS age_seconds
         FROM outbox, relay WHERE relay.locked AND published_at IS NULL ORDER BY seq LIMIT $1`,
        [outbox_batch_max, channelOf(this.settings.schema)],
      );
      if (rows.length === 0) return 0;
      // Publishes from one connection reach the stream in order; await them together.
      await Promise.all(
        rows.map((row) =>
          this.js.publish(this.names.eventSubject(row.type), row.payload, {
            msgID: row.event_id,
            timeout: outbox_publish_timeout_ms,
          }),
        ),
      );
      await manager.query('UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])', [rows.map((row) => row.seq)]);
      outbox_published_total.inc(rows.length);
      outbox_lag_seconds.set(rows[0]?.age_seconds ?? 0);
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Cleared before looking: a commit notified from here on makes the next look start at once.
      this.woken = false;
      let published = 0;
      try {
        published = await this.relayOnce();
      } catch (error) {
        this.logger.warn({ err: error }, 'outbox relay failed; will retry');
      }
      if (published < outbox_batch_max) await this.sleep(outbox_poll_interval_ms);
    }
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Until woken or the poll interval; not at all if a notification came while the relay was publishing (it would otherwise wait for the poll). */
  private sleep(timeout_ms: number): Promise<void> {
    if (this.woken || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeout_ms);
      this.wakeUp = done;
    });
  }

  /** LISTEN makes the relay publish right after commit; the poll is only a fallback. */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.settings.database_url });
    client.on('notification', () => this.wake());
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'outbox listener lost; polling until it is back');
      this.listener = undefined;
      if (!this.stopped) setTimeout(() => this.listen().catch(() => undefined), 1_000);
    });
    await client.connect();
    await client.query(`LISTEN ${channelOf(this.settings.schema)}`);
    this.listener = client;
  }
}
