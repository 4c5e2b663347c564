import pg from 'pg';
import { z } from 'zod';
import { base_config_schema, parseConfig } from '../config/config.js';
import { type SecretBox, secretBoxOf } from './secret-box.js';

/**
 * A column that holds values sealed with SECRETS_KEY, with how its
 * associated data is made (a value opens only with the data it was sealed
 * with). Each service lists its own (src/reseal.ts); the test of the
 * re-seal (apps/e2e/test/secrets-rotation.spec.ts) fails when a sealed
 * column is missing from its service's list.
 */
export interface SealedColumn {
  schema: string;
  table: string;
  column: string;
  /** The primary key's columns, in order: batches walk it. */
  key: readonly string[];
  associatedData: (row: Record<string, string>) => string;
}

/** A secret sealed with its row's `id` as the associated data. */
export function sealedById(schema: string, table: string, column: string): SealedColumn {
  return { schema, table, column, key: ['id'], associatedData: (row) => row['id'] as string };
}

/** Idempotent answers, in every service, are sealed with `<scope>\n<key>` (IdempotencyStore). */
export function idempotencySealedColumn(schema: string): SealedColumn {
  return { schema, table: 'idempotency_keys', column: 'response_sealed', key: ['scope', 'key'], associatedData: (row) => `${row['scope']}\n${row['key']}` };
}

/** Rows re-sealed per transaction: short locks on rows the services may be reading. */
export const reseal_batch_rows = 200;

export interface ResealProgress {
  column: SealedColumn;
  /** Rows of this column re-sealed so far, and how many were under an older key when it began. */
  done: number;
  total: number;
}

export interface ResealReport {
  resealed: number;
  /** Values none of the configured keys opens (a key missing from SECRETS_KEY_PREVIOUS): left as they are. */
  unreadable: number;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function tableOf(column: SealedColumn): string {
  return `${quoteIdentifier(column.schema)}.${quoteIdentifier(column.table)}`;
}

async function tableExists(client: pg.ClientBase, column: SealedColumn): Promise<boolean> {
  const result = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [tableOf(column)]);
  return result.rows[0]?.found != null;
}

/**
 * Seals every stored secret and answer that is not under SECRETS_KEY again
 * under it. Safe while the services run: each batch locks its rows (FOR
 * UPDATE) and writes a value only if it is still the one it read; the
 * services open values under either key meanwhile. Idempotent: a second run
 * finds nothing to do. Values no configured key opens are counted, not changed.
 */
export async function resealAll(
  client: pg.ClientBase,
  box: SecretBox,
  columns: readonly SealedColumn[],
  onProgress: (progress: ResealProgress) => void = () => undefined,
): Promise<ResealReport> {
  const report: ResealReport = { resealed: 0, unreadable: 0 };
  for (const column of columns) {
    if (!(await tableExists(client, column))) continue;
    const counted = await client.query<{ count: string }>(
      `SELECT count(*) AS count FROM ${tableOf(column)} WHERE ${quoteIdentifier(column.column)} IS NOT NULL AND NOT starts_with(${quoteIdentifier(column.column)}, $1)`,
      [box.current_prefix],
    );
    const progress: ResealProgress = { column, done: 0, total: Number(counted.rows[0]?.count ?? 0) };
    onProgress(progress);
    let after: string[] | undefined;
    for (;;) {
      const batch = await resealBatch(client, box, column, after);
      if (batch.last === undefined) break;
      after = batch.last;
      progress.done += batch.resealed;
      report.resealed += batch.resealed;
      report.unreadable += batch.unreadable;
      onProgress(progress);
    }
  }
  return report;
}

async function resealBatch(
  client: pg.ClientBase,
  box: SecretBox,
  column: SealedColumn,
  after: readonly string[] | undefined,
): Promise<{ resealed: number; unreadable: number; last: string[] | undefined }> {
  const sealed = quoteIdentifier(column.column);
  const key = `(${column.key.map(quoteIdentifier).join(', ')})`;
  const after_parameters = column.key.map((_, index) => `$${index + 3}`).join(', ');
  await client.query('BEGIN');
  try {
    const selected = await client.query<Record<string, string>>(
      `SELECT ${column.key.map(quoteIdentifier).join(', ')}, ${sealed} AS sealed FROM ${tableOf(column)}
       WHERE ${sealed} IS NOT NULL AND NOT starts_with(${sealed}, $1) ${after === undefined ? '' : `AND ${key} > (${after_parameters})`}
       ORDER BY ${key} LIMIT $2 FOR UPDATE`,
      [box.current_prefix, reseal_batch_rows, ...(after ?? [])],
    );
    let resealed = 0;
    let unreadable = 0;
    for (const row of selected.rows) {
      let fresh: string;
      try {
        fresh = box.reseal(row['sealed'] as string, column.associatedData(row));
      } catch {
        unreadable++;
        continue;
      }
      const where = column.key.map((name, index) => `${quoteIdentifier(name)} = $${index + 3}`).join(' AND ');
      const updated = await client.query(`UPDATE ${tableOf(column)} SET ${sealed} = $1 WHERE ${sealed} = $2 AND ${where}`, [
        fresh,
        row['sealed'],
        ...column.key.map((name) => row[name]),
      ]);
      resealed += updated.rowCount ?? 0;
    }
    await client.query('COMMIT');
    const last = selected.rows.at(-1);
    return { resealed, unreadable, last: last === undefined ? undefined : column.key.map((name) => last[name] as string) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

const reseal_config_schema = base_config_schema.pick({ DATABASE_URL: true, SECRETS_KEY: true, SECRETS_KEY_PREVIOUS: true }).extend({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
});

/**
 * `npm run secrets:reseal`, one service's part (its src/reseal.ts): reads
 * DATABASE_URL, SECRETS_KEY and SECRETS_KEY_PREVIOUS as the service does,
 * re-seals its columns with a progress line each, and exits 0, or 1 when a
 * value could not be opened (then SECRETS_KEY_PREVIOUS lacks a key: keep it
 * set until it is found).
 */
export async function runResealCommand(service: string, columns: readonly SealedColumn[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let client: pg.Client | undefined;
  try {
    const config = parseConfig(reseal_config_schema, env);
    client = new pg.Client({ connectionString: config.DATABASE_URL, application_name: `paynet-${service}-reseal` });
    await client.connect();
    const report = await resealAll(client, secretBoxOf(config), columns, ({ column, done, total }) => {
      process.stdout.write(`secrets:reseal ${column.schema}.${column.table}.${column.column}: ${done} of ${total} re-sealed under SECRETS_KEY\n`);
    });
    process.stdout.write(`secrets:reseal ${service}: ${report.resealed} re-sealed, ${report.unreadable} not opened by any configured key\n`);
    if (report.unreadable > 0) {
      process.stderr.write(`secrets:reseal ${service}: ${report.unreadable} values are sealed with a key that is neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS; they were left as they are\n`);
      process.exitCode = 1;
    }
  } catch (error) {
    process.stderr.write(`secrets:reseal ${service}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await client?.end().catch(() => undefined);
  }
}
