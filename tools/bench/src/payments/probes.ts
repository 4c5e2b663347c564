/**
 * Counters read before and after a phase: per service CPU and RSS from its
 * /metrics, NATS messages from nats-server's /varz, statements from
 * pg_stat_statements and transactions from pg_stat_database.
 */
import { withClient } from '@paynet/devstack';

const probe_timeout_ms = 10_000;
/** Statements listed in the report, most called first. */
export const statements_listed_max = 30;
const statement_text_max = 160;
/** Transaction control is counted as transactions, not as statements. */
const transaction_control = /^\s*(BEGIN|START TRANSACTION|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END)\b/i;

/** The value of an unlabelled sample `name value` in Prometheus' text format. */
export function prometheusValue(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!rest.startsWith(' ')) continue;
    const value = Number(rest.trim().split(' ')[0]);
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

export interface ServiceSample {
  cpu_s: number | undefined;
  rss_bytes: number | undefined;
  /** push's histogram of JetStream-to-frame: its sum (s) and count. */
  fanout_lag: { sum_s: number; count: number } | undefined;
}

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const answer = await fetch(url, { signal: AbortSignal.timeout(probe_timeout_ms) });
    return answer.ok ? await answer.text() : undefined;
  } catch {
    return undefined;
  }
}

export async function sampleService(service_url: string): Promise<ServiceSample> {
  const text = await fetchText(`${service_url}/metrics`);
  if (text === undefined) return { cpu_s: undefined, rss_bytes: undefined, fanout_lag: undefined };
  const sum_s = prometheusValue(text, 'paynet_stream_fanout_lag_seconds_sum');
  const count = prometheusValue(text, 'paynet_stream_fanout_lag_seconds_count');
  return {
    cpu_s: prometheusValue(text, 'paynet_process_cpu_seconds_total'),
    rss_bytes: prometheusValue(text, 'paynet_process_resident_memory_bytes'),
    fanout_lag: sum_s === undefined || count === undefined ? undefined : { sum_s, count },
  };
}

export interface NatsSample {
  in_msgs: number;
  out_msgs: number;
}

export async function sampleNats(monitor_url: string | undefined): Promise<NatsSample | undefined> {
  if (monitor_url === undefined) return undefined;
  const text = await fetchText(`${monitor_url}/varz`);
  if (text === undefined) return undefined;
  const varz = JSON.parse(text) as { in_msgs?: number; out_msgs?: number };
  return typeof varz.in_msgs === 'number' && typeof varz.out_msgs === 'number' ? { in_msgs: varz.in_msgs, out_msgs: varz.out_msgs } : undefined;
}

export interface DatabaseSample {
  transactions: number;
  tuples_written: number;
  tuples_read: number;
}

export async function sampleDatabase(server_url: string, database: string): Promise<DatabaseSample> {
  return withClient(server_url, async (client) => {
    const result = await client.query<Record<string, string>>(
      `SELECT xact_commit + xact_rollback AS transactions, tup_inserted + tup_updated + tup_deleted AS tuples_written,
              tup_fetched AS tuples_read
         FROM pg_stat_database WHERE datname = $1`,
      [database],
    );
    const row = result.rows[0];
    if (!row) throw new Error(`pg_stat_database has no row for ${database}`);
    return { transactions: Number(row['transactions']), tuples_written: Number(row['tuples_written']), tuples_read: Number(row['tuples_read']) };
  });
}

/** Whether pg_stat_statements is loaded and its view created (in the server's maintenance database). */
export async function enableStatements(server_url: string): Promise<boolean> {
  try {
    return await withClient(server_url, async (client) => {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await client.query('SELECT pg_stat_statements_reset()');
      return true;
    });
  } catch {
    return false;
  }
}

export async function resetStatements(server_url: string): Promise<void> {
  await withClient(server_url, (client) => client.query('SELECT pg_stat_statements_reset()'));
}

export interface StatementCount {
  query: string;
  calls: number;
}

/** Every statement run in `database` since the last reset, most called first. */
export async function readStatements(server_url: string, database: string): Promise<StatementCount[]> {
  return withClient(server_url, async (client) => {
    const result = await client.query<{ query: string; calls: string }>(
      `SELECT s.query, sum(s.calls)::bigint AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 GROUP BY s.query ORDER BY calls DESC`,
      [database],
    );
    return result.rows.map((row) => ({ query: row.query, calls: Number(row.calls) }));
  });
}

export interface StatementFigures {
  /** Statements other than transaction control. */
  statements: number;
  /** The most called, text shortened to one line. */
  top: StatementCount[];
}

export function summariseStatements(counts: readonly StatementCount[]): StatementFigures {
  const work = counts.filter((count) => !transaction_control.test(count.query));
  const top = work.slice(0, statements_listed_max).map((count) => ({ query: oneLine(count.query), calls: count.calls }));
  return { statements: work.reduce((sum, count) => sum + count.calls, 0), top };
}

function oneLine(query: string): string {
  const line = query.replace(/\s+/g, ' ').trim();
  return line.length > statement_text_max ? `${line.slice(0, statement_text_max - 3)}...` : line;
}

/**
 * When each intent's last change committed (Unix ms): PostgreSQL's commit
 * timestamp of its row's current version. In the bench nothing changes a
 * paid intent after the transaction that made it `succeeded` and wrote its
 * event to the outbox (whose own row is marked published later, so it cannot
 * tell). Undefined when the server does not keep commit timestamps
 * (track_commit_timestamp off).
 */
export async function intentCommitTimes(server_url: string, database: string, intent_ids: readonly string[]): Promise<Map<string, number> | undefined> {
  try {
    const url = new URL(server_url);
    url.pathname = `/${database}`;
    return await withClient(url.toString(), async (client) => {
      const found = new Map<string, number>();
      for (let start = 0; start < intent_ids.length; start += commit_lookup_batch) {
        const result = await client.query<{ id: string; commit_ms: string | null }>(
          `SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000 AS commit_ms
             FROM payments.payment_intents WHERE id = ANY($1::text[])`,
          [intent_ids.slice(start, start + commit_lookup_batch)],
        );
        for (const row of result.rows) if (row.commit_ms !== null) found.set(row.id, Number(row.commit_ms));
      }
      return found;
    });
  } catch {
    return undefined;
  }
}

const commit_lookup_batch = 10_000;
