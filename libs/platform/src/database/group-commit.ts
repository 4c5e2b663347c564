import { type BeforeApplicationShutdown, Logger } from '@nestjs/common';
import type pg from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { group_commit_retried_alone_total, group_commit_statements } from '../observability/metrics.js';

/**
 * Group commit: statements that each would be their own autocommit
 * transaction (one commit, one WAL flush each) share one transaction when
 * they arrive while the database is busy with earlier ones.
 *
 * - With fewer than `in_flight_max` transactions of this process's
 *   statements running, a statement runs at once, alone (an autocommit on
 *   the data source's pool, exactly as `dataSource.query`): no wait at low load.
 * - Otherwise it waits; when one of the running ones ends, everything that
 *   waited (at most group_commit_statements_max) goes as one transaction
 *   on a connection of this class's own, pipelined: `BEGIN`, the
 *   statements, `COMMIT` written at once, answered in one round trip.
 *   What waited group_commit_stall_ms goes anyway, in a further lane.
 *   At most group_commit_queue_max wait; past that a statement runs alone.
 * - Each caller gets its own statement's rows once the transaction
 *   committed, or its own error.
 * - A statement the database refuses (a constraint, a deadlock) rolls the
 *   whole transaction back; then every statement of it runs again alone, so
 *   one statement's error never becomes another's, and nothing is applied
 *   twice. Statements given to this class must therefore be safe to run
 *   again after a rollback (each is a whole request's change, or decides
 *   from what it reads).
 * - A connection lost before the commit's answer leaves the outcome
 *   unknown: each caller gets the error an autocommit statement would have
 *   got from a lost connection (QueryFailedError over the driver's error),
 *   which the service answers 503 (isDatabaseUnavailable).
 *
 * Row locks taken by a statement are held until its whole transaction
 * commits: statements run in `order_key` order within a transaction (the
 * row the callers contend for, such as the intent's id), so two
 * transactions lock shared rows in the same order and do not deadlock
 * over them; a deadlock the order cannot prevent (rows of different keys)
 * is a refused statement as above, each then run alone.
 */
export const group_commit_statements_max = 64;
/** Statements waiting for a transaction; a statement arriving past this runs alone at once (the pool's own queue bounds it then). */
export const group_commit_queue_max = 1_024;
/**
 * A statement that waited this long (the running transactions are slow, or
 * one waits for a row lock) goes in a transaction of its own lane beyond
 * in_flight_max, at most group_commit_stalled_lanes_max more: one lock wait
 * never holds up every statement of the process behind it.
 */
export const group_commit_stall_ms = 50;
export const group_commit_stalled_lanes_max = 4;
/** How long shutdown waits for statements in flight and waiting before it closes the connections. */
const group_commit_shutdown_wait_ms = 10_000;

export interface GroupCommitSettings {
  /** Transactions of its statements (a lone statement counts as one) this process runs at once; 0: every statement alone. */
  in_flight_max: number;
}

interface Waiting {
  queued_at_ms: number;
  sql: string;
  parameters: unknown[];
  order_key: string;
  resolve: (rows: unknown[]) => void;
  reject: (error: unknown) => void;
}

type Settled = PromiseSettledResult<pg.QueryResult>;

/** What a pipelined transaction's answers say about its statements. */
export type BatchVerdict =
  /** Each statement's own answer is its outcome: the transaction committed, or never began (each then ran as its own autocommit). */
  | 'each_own'
  /** Rolled back for certain, nothing applied: run each statement again, alone. */
  | 'retry_alone'
  /** The commit's outcome is unknown (the connection was lost): every statement fails with the connection's error. */
  | 'unknown';

/** A refusal by a live server (`ERROR`): that statement or commit failed and the session goes on. FATAL, PANIC and socket errors end the session. */
function isStatementError(error: unknown): boolean {
  return (error as { severity?: unknown } | null)?.severity === 'ERROR';
}

/** Reads the answers to `BEGIN`, the statements, `COMMIT`, sent as one pipeline in that order. */
export function batchVerdict(begin: Settled, statements: readonly Settled[], commit: Settled): BatchVerdict {
  // No transaction: whatever ran was its own autocommit (a failed BEGIN is only ever seen with a lost connection).
  if (begin.status === 'rejected') return 'each_own';
  // A statement refused in the transaction aborts it (COMMIT then answers ROLLBACK), whatever became of the commit.
  if (statements.some((answer) => answer.status === 'rejected' && isStatementError(answer.reason))) return 'retry_alone';
  if (commit.status === 'fulfilled') return commit.value.command === 'COMMIT' ? 'each_own' : 'retry_alone';
  // A COMMIT the server refused (a deferred check) rolled back; one without an answer may have committed.
  return isStatementError(commit.reason) ? 'retry_alone' : 'unknown';
}

/** TypeORM's pool of the data source (pg-pool): its settings open our connections, its Client class makes them. */
interface DriverPool {
  options: pg.ClientConfig;
  Client: new (config: pg.ClientConfig) => pg.Client;
}

export class GroupCommit implements BeforeApplicationShutdown {
  private readonly logger = new Logger(GroupCommit.name);
  private readonly queue: Waiting[] = [];
  private in_flight = 0;
  /** Our own connections not running a transaction now; at most one per lane (in_flight_max + group_commit_stalled_lanes_max) is ever open. */
  private readonly idle: pg.Client[] = [];
  private readonly open = new Set<pg.Client>();
  private drained: (() => void) | undefined;
  private stall_timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly settings: GroupCommitSettings,
  ) {
    if (!Number.isInteger(settings.in_flight_max) || settings.in_flight_max < 0) throw new Error(`group commit: in_flight_max ${settings.in_flight_max}`);
  }

  /**
   * Runs `sql` as if it were an autocommit statement: answers its rows once
   * committed (for UPDATE and DELETE too: not `dataSource.query`'s
   * `[rows, count]`), or throws what `dataSource.query` would
   * (QueryFailedError). `order_key` orders it within a shared transaction.
   */
  query<T>(sql: string, parameters: readonly unknown[], order_key = ''): Promise<T[]> {
    if (this.in_flight < this.settings.in_flight_max) {
      this.in_flight += 1;
      return this.alone<T>(sql, [...parameters]).finally(() => this.finished());
    }
    if (this.settings.in_flight_max === 0 || this.queue.length >= group_commit_queue_max) return this.alone<T>(sql, [...parameters]);
    return new Promise<T[]>((resolve, reject) => {
      this.queue.push({ queued_at_ms: Date.now(), sql, parameters: [...parameters], order_key, resolve: resolve as (rows: unknown[]) => void, reject });
      this.watchStall();
    });
  }

  /** Lets what is in flight and waiting finish, then closes the connections. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.in_flight > 0 || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, group_commit_shutdown_wait_ms))),
      ]).finally(() => clearTimeout(timer));
    }
    await Promise.all([...this.open].map((client) => this.close(client)));
  }

  /** A transaction ended: what waited meanwhile goes next, together. */
  private finished(): void {
    this.in_flight -= 1;
    while (this.in_flight < this.settings.in_flight_max && this.queue.length > 0) this.dispatch();
    if (this.in_flight === 0 && this.queue.length === 0) this.drained?.();
  }

  private dispatch(): void {
    const batch = this.queue.splice(0, group_commit_statements_max);
    this.in_flight += 1;
    void this.runBatch(batch).finally(() => this.finished());
  }

  /** While statements wait, looks again when the oldest will have waited group_commit_stall_ms: then it goes in a lane of its own. */
  private watchStall(): void {
    const oldest = this.queue[0];
    if (this.stall_timer !== undefined || !oldest) return;
    const due_ms = oldest.queued_at_ms + group_commit_stall_ms - Date.now();
    // Overdue and no lane left: look again a stall later, not at once.
    this.stall_timer = setTimeout(() => {
      this.stall_timer = undefined;
      const waited = this.queue[0];
      const lanes_max = this.settings.in_flight_max + group_commit_stalled_lanes_max;
      if (waited && Date.now() - waited.queued_at_ms >= group_commit_stall_ms && this.in_flight < lanes_max) this.dispatch();
      this.watchStall();
    }, due_ms > 0 ? due_ms : group_commit_stall_ms);
    this.stall_timer.unref();
  }

  private async runBatch(batch: Waiting[]): Promise<void> {
    group_commit_statements.observe(batch.length);
    if (batch.length === 1) return this.settleAlone(batch[0] as Waiting);
    let client: pg.Client;
    try {
      client = await this.connection();
    } catch (error) {
      // No connection of our own (the database away or full): each as an autocommit, with the error it gets there.
      this.logger.warn({ err: error }, 'group commit: no connection; statements run alone');
      return this.settleEachAlone(batch);
    }
    const ordered = [...batch].sort((a, b) => (a.order_key < b.order_key ? -1 : a.order_key > b.order_key ? 1 : 0));
    const answers = await pipelined(client, ordered);
    this.release(client);
    const verdict = batchVerdict(answers.begin, answers.statements, answers.commit);
    if (verdict === 'retry_alone') {
      group_commit_retried_alone_total.inc();
      return this.settleEachAlone(ordered);
    }
    ordered.forEach((waiting, index) => settle(waiting, answers.statements[index] as Settled, verdict === 'unknown' ? answers.commit : undefined));
  }

  private settleEachAlone(batch: readonly Waiting[]): Promise<void> {
    return Promise.all(batch.map((waiting) => this.settleAlone(waiting))).then(() => undefined);
  }

  private settleAlone(waiting: Waiting): Promise<void> {
    return this.alone(waiting.sql, waiting.parameters).then(waiting.resolve, waiting.reject);
  }

  /** An autocommit statement on the data source's pool, as `dataSource.query` runs it; its rows whatever the command. */
  private async alone<T>(sql: string, parameters: unknown[]): Promise<T[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return (await runner.query(sql, parameters, true)).records as T[];
    } finally {
      await runner.release();
    }
  }

  private async connection(): Promise<pg.Client> {
    const idle = this.idle.pop();
    if (idle) return idle;
    // TypeORM keeps its pg-pool as the driver's `master`: the same settings (search_path, isolation, no JIT) and the same pg.
    const pool = (this.dataSource.driver as unknown as { master: DriverPool }).master;
    const client = new pool.Client({ ...pool.options, pipeline: true });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'group commit: connection lost');
      void this.close(client);
    });
    this.open.add(client);
    try {
      await client.connect();
    } catch (error) {
      await this.close(client);
      throw error;
    }
    return client;
  }

  /** Back to the idle connections if it is still open and out of any transaction; else closed. */
  private release(client: pg.Client): void {
    if (this.open.has(client) && client.getTransactionStatus() === 'I') this.idle.push(client);
    else void this.close(client);
  }

  private async close(client: pg.Client): Promise<void> {
    if (!this.open.delete(client)) return;
    const index = this.idle.indexOf(client);
    if (index >= 0) this.idle.splice(index, 1);
    await client.end().catch(() => undefined);
  }
}

/** Writes `BEGIN`, the statements and `COMMIT` at once on a pipelined connection, and collects every answer. */
async function pipelined(client: pg.Client, batch: readonly Waiting[]): Promise<{ begin: Settled; statements: Settled[]; commit: Settled }> {
  const begin = client.query('BEGIN');
  const statements = batch.map((waiting) => client.query(waiting.sql, waiting.parameters));
  const commit = client.query('COMMIT');
  const [began, committed, ...answers] = await Promise.allSettled([begin, commit, ...statements]);
  return { begin: began as Settled, statements: answers, commit: committed as Settled };
}

/** Answers one caller: its rows, or its own error (else, when the commit's outcome is unknown, the commit's), as TypeORM wraps driver errors. */
function settle(waiting: Waiting, answer: Settled, unknown_commit: Settled | undefined): void {
  if (unknown_commit?.status === 'rejected' && answer.status === 'fulfilled') {
    waiting.reject(new QueryFailedError(waiting.sql, waiting.parameters, unknown_commit.reason as Error));
  } else if (answer.status === 'fulfilled') {
    waiting.resolve(answer.value.rows);
  } else {
    waiting.reject(new QueryFailedError(waiting.sql, waiting.parameters, answer.reason as Error));
  }
}
