/**
 * `npm run bench:ledger`: on one PostgreSQL, pgbench's tpcb-like tps, then
 * ledger transfers/s through the accounts service's `accounts.transfers.post`
 * NATS command, over many accounts (uniform) and into one hot account, with
 * p50/p99 latency; the ledger verified afterwards; the figures written to
 * docs/BENCHMARKS.md. Everything it starts is removed when it ends.
 */
import { buildStackEnv, type DatabaseRoles, default_service_ports, errorMessage, findFreePort, generateAdminToken, generateSecretsKey, serviceDatabaseEnv, serviceEntry, startService } from '@paynet/devstack';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createBenchAccounts, verifyLedger, type AccountsApi } from './accounts-api.js';
import { batchesBetween, readBatchTotals } from './batches.js';
import { runLoad, type LoadResult } from './load.js';
import { checkpoint, loadAverage, processCpuSeconds, processTreeCpuSeconds } from './machine.js';
import { parseOptions, usage, type BenchOptions } from './options.js';
import { pgbench_clients, pgbench_scale, pgbench_threads } from './pgbench.js';
import { benchmarks_intro, renderResults, renderTables, replaceResults, type BenchRun, type LedgerCheck, type PhaseCpu } from './report.js';
import type { PhaseBatches } from './batches.js';
import { bench_rate_limits, cpuMeter, lifecycle, machineFacts, ownCpuSeconds, ownDatabase, ownServiceRoles, pgbenchFirst, root, runMain, type Infra, run_id, say, startInfra, tail, watchService } from './run.js';
import { TransferClient } from './transfers.js';
import { pickPair, randomAmount, transfer_amount_minor_max, transferCommand, type BenchAccounts, type Shape } from './workload.js';

const progress_interval_ms = 5_000;
// One Nest service booting and migrating on a busy 2-core machine.
const service_ready_timeout_ms = 120_000;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    say(usage);
    return;
  }
  lifecycle.handleSignals();
  const load_average = loadAverage(); // before we add our own load
  const infra = await startInfra();
  const pgbench = await pgbenchFirst(infra, options);
  const ledger = await ledgerPhases(infra, options);
  const run: BenchRun = {
    date: new Date(),
    machine: await machineFacts(infra, pgbench, load_average, `nats-server ${ledger.nats_version} (${infra.nats.started ? 'throwaway' : 'NATS_URL'})`),
    settings: { ...options, transfer_amount_minor_max, pgbench_clients, pgbench_threads, pgbench_scale },
    pgbench: pgbench.result,
    uniform: ledger.uniform,
    hot: ledger.hot,
    ledger: ledger.check,
    cpu: ledger.cpu,
    batches: ledger.batches,
  };
  await report(run);
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
  const roles = ownServiceRoles(infra.postgres.url, `bench_ledger_${run_id}`);
  const database_url = await ownDatabase(infra.postgres.url, `bench_ledger_${run_id}`);
  const nats_prefix = `bench_${run_id}`;
  const { api, pid } = await startAccounts(infra, database_url, roles, nats_prefix);
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
async function startAccounts(infra: Infra, database_url: string, roles: DatabaseRoles, nats_prefix: string): Promise<{ api: AccountsApi; pid: number | undefined }> {
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
  Object.assign(env, serviceDatabaseEnv(database_url, roles, 'accounts'), bench_rate_limits); // its own role, the owner migrating
  const log_file = join(infra.folder, 'logs', 'accounts.log');
  say('accounts: starting from dist (migrations run as it starts) ...');
  const service = startService({ name: 'accounts', entry: serviceEntry(root, 'accounts'), env, port, logFile: log_file, cwd: root, detached: true, sourceMaps: false });
  lifecycle.defer('stop accounts', () => service.stop());
  watchService('accounts', service);
  try {
    await service.waitReady(service_ready_timeout_ms);
  } catch (error) {
    throw new Error(`${errorMessage(error)}\n${tail(service)}`);
  }
  say(`accounts: ready on ${service.url}`);
  return { api: { url: service.url, admin_token }, pid: service.process.pid };
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
    bench_client_cores: ownCpuSeconds,
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

runMain(main, usage);
