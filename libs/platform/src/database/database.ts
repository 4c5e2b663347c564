import { Logger } from '@nestjs/common';
import type pg from 'pg';
import { DataSource, type DataSourceOptions, type EntityManager, type MixedList, type QueryRunner, type ValueTransformer } from 'typeorm';
import { publishedAfterCommit } from '../outbox/after-commit.js';

export interface ServiceDatabaseSettings {
  url: string;
  /** Each service owns one PostgreSQL schema and touches no other. */
  schema: string;
  pool_size: number;
  // TypeORM's own option types: entity classes and migration classes.
  entities: MixedList<string | (new (...args: never[]) => unknown)>;
  migrations: MixedList<string | (new (...args: never[]) => unknown)>;
  application_name: string;
}

export function dataSourceOptions(settings: ServiceDatabaseSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    schema: settings.schema,
    entities: settings.entities as DataSourceOptions['entities'],
    migrations: settings.migrations as DataSourceOptions['migrations'],
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    logging: ['error'],
    applicationName: settings.application_name,
    poolSize: settings.pool_size,
    extra: {
      // Unqualified names in raw SQL resolve to the service's own schema. Every
      // transaction is READ COMMITTED by this session default, set explicitly
      // rather than left to the server's configuration; withTransaction relies
      // on it to open a transaction in one round trip. No JIT: it is for long
      // analytic queries, and compiling one costs more than a whole OLTP
      // statement (tens of ms when a stale estimate crosses jit_above_cost).
      options: `-c search_path=${settings.schema} -c default_transaction_isolation=read\\ committed -c jit=off`,
      connectionTimeoutMillis: 5_000,
      // A connection is kept for minutes once opened (pg-pool's default closes an idle one after 10 s): opening one
      // is a fork and an authentication in PostgreSQL (SCRAM hashing on both sides), tens of ms of CPU on the
      // 2-core test machine, paid again by every burst after a quiet spell (docs/BENCHMARKS.md, Flood).
      idleTimeoutMillis: pool_idle_timeout_ms,
    },
  };
}

/** How long an idle pooled connection is kept before it is closed. */
export const pool_idle_timeout_ms = 300_000;
/**
 * Opens `count` pooled connections at once (DATABASE_POOL_MIN: each runs
 * `SELECT 1` and goes back to the pool, kept for pool_idle_timeout_ms), so
 * the first burst of requests does not also pay for opening them.
 */
export async function warmPool(dataSource: DataSource, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => dataSource.query('SELECT 1')));
}

/** Bigint columns: pg answers them as strings; money must never become a JS number. */
export const bigint_column: ValueTransformer = {
  to: (value: bigint | null | undefined) => (value === null || value === undefined ? value : value.toString()),
  from: (value: string | null) => (value === null ? null : BigInt(value)),
};

const migration_lock_namespace = 'paynet:migrations:';

/**
 * Applies pending migrations under a PostgreSQL advisory lock, so replicas
 * starting together do not race; creates the schema first. Idempotent.
 * `afterMigrations` runs on the same connection under the lock (the owner's
 * grants to the runtime role: concurrent GRANTs on one table collide).
 * Without it, a schema already up to date is left alone: nothing is
 * created, so a runtime role that may not create anything boots.
 */
export async function runMigrations(
  dataSource: DataSource,
  schema: string,
  afterMigrations?: (client: pg.ClientBase) => Promise<void>,
): Promise<string[]> {
  const logger = new Logger('Migrations');
  if (!afterMigrations && (await isUpToDate(dataSource, schema))) return [];
  const runner = dataSource.createQueryRunner();
  // PostgresQueryRunner.connect() answers its pg client.
  const client = (await runner.connect()) as pg.ClientBase;
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [migration_lock_namespace + schema]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const migration of applied) logger.log(`applied ${migration.name} to schema ${schema}`);
    if (afterMigrations) await afterMigrations(client);
    return applied.map((migration) => migration.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [migration_lock_namespace + schema]).catch(() => undefined);
    await runner.release();
  }
}

/** Whether every migration of `dataSource` is recorded in the schema's migrations table (read only). */
async function isUpToDate(dataSource: DataSource, schema: string): Promise<boolean> {
  const table = `"${schema}".migrations`;
  const [found] = (await dataSource.query('SELECT to_regclass($1) IS NOT NULL AS present', [table])) as { present: boolean }[];
  if (!found?.present) return false;
  const rows = (await dataSource.query(`SELECT name FROM ${table}`)) as { name: string }[];
  const applied = new Set(rows.map((row) => row.name));
  return dataSource.migrations.every((migration) => applied.has(migration.name ?? migration.constructor.name));
}

/** PostgreSQL errors worth retrying the whole transaction for. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } } | null)?.code ??
    (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return code === '40001' || code === '40P01';
}

export const transaction_attempts_max = 5;

/**
 * Runs `work` in a READ COMMITTED transaction (the session default every
 * connection sets, see dataSourceOptions: naming the level here would cost a
 * second round trip per transaction), retrying serialization failures and
 * deadlocks a bounded number of times. Answers once the events the
 * transaction wrote to the outbox are published (OutboxPublisher, after the
 * connection went back to the pool), so a request that follows its answer
 * has its events after these on the stream.
 */
export async function withTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      let runner: QueryRunner | undefined;
      const result = await dataSource.transaction((manager) => {
        runner = manager.queryRunner;
        return work(manager);
      });
      // The events it wrote are on the stream before the caller answers (bounded: OutboxPublisher).
      await publishedAfterCommit(runner);
      return result;
    } catch (error) {
      if (!isRetryableTransactionError(error) || attempt >= transaction_attempts_max) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2 ** attempt + Math.floor(Math.random() * 5)));
    }
  }
}

/**
 * UPDATE/DELETE ... RETURNING through TypeORM answers `[rows, affected]` on
 * PostgreSQL (INSERT and SELECT answer the rows); this reads the rows.
 */
export async function updateReturning<T>(manager: EntityManager, sql: string, parameters: unknown[]): Promise<T[]> {
  const [rows] = (await manager.query(sql, parameters)) as [T[], number];
  return rows;
}
