import pg from 'pg';
import { errorMessage } from '@paynet/devstack';
import { waitFor } from './wait-for.js';

const connect_timeout_ms = 5_000;
const blocked_wait_timeout_ms = 10_000;

export interface UntilSomeoneWaitsOptions {
  /**
   * The request these locks should stop. If it settles before anyone waits,
   * nobody will: this fails at once with what it settled to (its status and
   * body, or its error) instead of timing out without saying why.
   */
  stopping?: Promise<unknown>;
  timeout_ms?: number;
}

export interface HeldRowLocks {
  /** Resolves once some other session is waiting for these locks (a service is stuck midway through its work). */
  untilSomeoneWaits(options?: UntilSomeoneWaitsOptions): Promise<void>;
  /**
   * Resolves once `count` sessions of this database wait for a lock (these or
   * each other's: the second of two waiters queues behind the first): several
   * transactions are stuck at the same point, their statements begun.
   */
  untilWaiting(count: number, timeout_ms?: number): Promise<void>;
  /** Ends the transaction: the waiter goes on. */
  release(): Promise<void>;
}

/**
 * Locks rows in an open transaction, so a service that needs them stops
 * midway through its work, at a point the test chooses (a hung request, a
 * command in flight when its service dies), without changing the service.
 * `select_for_update_sql` is a `SELECT ... FOR UPDATE` naming schema and table.
 */
export async function holdRowLocks(database_url: string, select_for_update_sql: string, params: readonly unknown[]): Promise<HeldRowLocks> {
  const holder = new pg.Client({ connectionString: database_url, connectionTimeoutMillis: connect_timeout_ms });
  holder.on('error', () => undefined);
  await holder.connect();
  await holder.query('BEGIN');
  const locked = await holder.query(select_for_update_sql, [...params]);
  if (locked.rowCount === 0) {
    await holder.end();
    throw new Error(`holdRowLocks: no row matched ${select_for_update_sql}`);
  }
  const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const holder_pid = (rows[0] as { pid: number }).pid;
  /**
   * A query of pg_stat_activity as it is now. The holder asks from inside its
   * open transaction, and PostgreSQL keeps a transaction's first view of the
   * sessions until it ends: without clearing it, a session that connected
   * after the first look (a pool opening a connection for the request) would
   * never be seen waiting.
   */
  const currentActivity = async (sql: string, params: unknown[] = []) => {
    await holder.query('SELECT pg_stat_clear_snapshot()');
    return holder.query<{ count: number }>(sql, params);
  };
  return {
    untilSomeoneWaits: async ({ stopping, timeout_ms = blocked_wait_timeout_ms } = {}) => {
      let settled: { value: unknown } | { error: unknown } | undefined;
      stopping?.then(
        (value) => (settled = { value }),
        (error: unknown) => (settled = { error }),
      );
      const outcome = await waitFor(
        async () => {
          const waiting = await currentActivity(
            'SELECT count(*)::int AS count FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
            [holder_pid],
          );
          if ((waiting.rows[0]?.count ?? 0) > 0) return 'waiting';
          return settled === undefined ? false : 'settled';
        },
        { timeout_ms, description: 'a session waiting for the held row locks' },
      );
      if (outcome === 'settled' && settled !== undefined) {
        const what = 'error' in settled ? `failed: ${errorMessage(settled.error)}` : `answered ${JSON.stringify(settled.value)?.slice(0, 1_000)}`;
        throw new Error(`nobody waited for the held row locks: the request they were to stop ${what}`);
      }
    },
    untilWaiting: async (count, timeout_ms = blocked_wait_timeout_ms) => {
      await waitFor(
        async () => {
          const waiting = await currentActivity(
            `SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0`,
          );
          return (waiting.rows[0]?.count ?? 0) >= count;
        },
        { timeout_ms, description: `${count} sessions waiting for locks` },
      );
    },
    release: async () => {
      await holder.query('COMMIT');
      await holder.end();
    },
  };
}
