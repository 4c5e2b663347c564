/**
 * `npm run bench`: on one PostgreSQL, pgbench's tpcb-like tps, then payments
 * through the public API exactly as a merchant and a holder make them, at
 * the saturation point (uniform, then one hot merchant), at half of it, and
 * with one client; what each payment costs in statements, transactions,
 * NATS messages, CPU and memory; the figures written to docs/BENCHMARKS.md.
 * Everything it starts is removed when it ends.
 */
import { buildStackEnv, findFreePort, generateAdminToken, generateSecretsKey, serviceDatabaseEnv, serviceNames, type ServiceName } from '@paynet/devstack';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type WebSocket from 'ws';
import { runLoad, type LoadResult } from '../load.js';
import { checkpoint, loadAverage, processCpuSeconds, processTreeCpuSeconds } from '../machine.js';
import { UsageError } from '../options.js';
import { pgbench_clients, pgbench_scale, pgbench_threads } from '../pgbench.js';
import { benchmarks_intro, replaceResults } from '../report.js';
import { bench_rate_limits, cpuMeter, lifecycle, machineFacts, ownCpuSeconds, ownDatabase, ownServiceRoles, pgbenchFirst, root, runMain, type Infra, run_id, say, startBenchService, startInfra } from '../run.js';
import { createHolders, createMerchants, makePayment, payment_amount_minor_max, streamToken, type BenchHolder, type BenchMerchant, type Clients } from './actors.js';
import { DeliveryClock } from './delivery.js';
import { HttpClient } from './http.js';
import { openStream, WebhookListener } from './listeners.js';
import { hot_share, parsePaymentsOptions, usage, type PaymentsBenchOptions } from './options.js';
import { enableStatements, intentCommitTimes, readStatements, resetStatements, sampleDatabase, sampleNats, sampleService, type ServiceSample, summariseStatements } from './probes.js';
import {
  payments_intro,
  payments_results_begin,
  payments_results_end,
  renderFlowResults,
  renderFlowTables,
  service_keys,
  type FlowPhase,
  type FlowRun,
  type RssSample,
  type ServiceKey,
} from './report.js';

const progress_interval_ms = 5_000;
// Four Nest services booting and migrating at once on a busy 2-core machine.
const service_ready_timeout_ms = 180_000;
/** After a phase, how long the listeners may take to hear the last payments. */
const drain_timeout_ms = 30_000;
const drain_poll_ms = 250;
/** Keep-alive sockets per service: one per client in flight, and some. */
const sockets_slack = 8;
/** Clients kept ready in the open loop, as a multiple of the closed loop's: a slow payment must not delay the next one's start. */
const open_loop_clients_factor = 4;
const one_mb = 1024 * 1024;

interface Platform {
  urls: Record<ServiceName, string>;
  admin_token: string;
  /** The database the services use, for its counters. */
  database: { server_url: string; name: string } | undefined;
}

async function main(): Promise<void> {
  const options = parsePaymentsOptions(process.argv.slice(2));
  if (options.help) return say(usage);
  lifecycle.handleSignals();
  const load_average = loadAverage();
  const infra = await startInfra({ postgres_settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all', 'track_commit_timestamp=on'], nats_monitor: true });
  const pgbench = await pgbenchFirst(infra, options);
  const statements = await enableStatements(infra.postgres.url);
  if (!statements) say('pg_stat_statements is not loaded: statements per payment will read n/a (transactions still counted)');
  const platform = await startPlatform(infra);
  const bench = await prepare(platform, options);
  const context: PhaseContext = { ...bench, infra, platform, options, statements };
  const uniform = await flowPhase(context, { name: 'saturated, uniform', shape: `${options.concurrency} clients, closed loop, merchants picked at random`, clients: options.concurrency, hot: false });
  const hot = await flowPhase(context, { name: 'saturated, hot merchant', shape: `${options.concurrency} clients, closed loop, ${hot_share * 100}% of payments to one merchant`, clients: options.concurrency, hot: true });
  const half_rate = uniform.load.transfers_per_s / 2;
  const half = await flowPhase(context, {
    name: 'half load',
    shape: `open loop at ${half_rate.toFixed(1)} payments/s (half the saturated uniform rate), up to ${options.concurrency * open_loop_clients_factor} in flight, merchants at random`,
    clients: options.concurrency * open_loop_clients_factor,
    hot: false,
    rate_per_s: Math.max(half_rate, 1),
  });
  const single = await flowPhase(context, { name: 'one client', shape: '1 client, closed loop, merchants at random', clients: 1, hot: false });
  const soak =
    options.soak_s > 0
      ? await flowPhase(context, {
          name: 'soak',
          shape: `${options.concurrency} clients, closed loop, merchants at random, for ${options.soak_s} s; each service's RSS sampled every ${progress_interval_ms / 1000} s`,
          clients: options.concurrency,
          hot: false,
          duration_s: options.soak_s,
        })
      : undefined;
  const ledger = await verifyLedger(bench.clients, platform.admin_token);
  const run: FlowRun = {
    date: new Date(),
    machine: await machineFacts(infra, pgbench, load_average, `${infra.nats.started ? 'throwaway nats-server' : 'NATS_URL'}${infra.nats_monitor_url ? ' with /varz' : ''}`),
    settings: { ...options, pgbench_clients, pgbench_threads, pgbench_scale, amount_max: payment_amount_minor_max },
    pgbench: pgbench.result,
    uniform,
    hot,
    half,
    single,
    soak,
    ledger,
  };
  await report(run);
}

/** The four services from dist on free ports (or the ones BENCH_*_URL name). */
async function startPlatform(infra: Infra): Promise<Platform> {
  const given = givenPlatform(infra);
  if (given) return given;
  const name = `bench_e2e_${run_id}`;
  const roles = ownServiceRoles(infra.postgres.url, name);
  const database_url = await ownDatabase(infra.postgres.url, name);
  const ports = await distinctPorts();
  const admin_token = generateAdminToken();
  const env = {
    ...buildStackEnv({ databaseUrl: database_url, natsUrl: infra.nats.url, natsPrefix: `bench_${run_id}`, adminToken: admin_token, secretsKey: generateSecretsKey(), ports, logLevel: 'warn', webhookAllowPrivate: true }),
    ...bench_rate_limits,
  };
  say('platform: starting accounts, merchants, payments and push from dist (migrations run as they start) ...');
  const urls = {} as Record<ServiceName, string>;
  await Promise.all(
    serviceNames.map(async (service) => {
      // Each service on its own database role, the owner migrating (as deployed).
      const service_env = { ...env, ...serviceDatabaseEnv(database_url, roles, service) };
      urls[service] = await startBenchService(infra, service, service_env, ports[service], service_ready_timeout_ms);
    }),
  );
  say(`platform: ready (${serviceNames.map((service) => `${service} ${urls[service]}`).join(', ')})`);
  return { urls, admin_token, database: { server_url: infra.postgres.url, name } };
}

function givenPlatform(infra: Infra): Platform | undefined {
  const env = process.env;
  const urls = Object.fromEntries(serviceNames.map((service) => [service, env[`BENCH_${service.toUpperCase()}_URL`]]));
  if (serviceNames.every((service) => urls[service] === undefined)) return undefined;
  const admin_token = env['ADMIN_TOKEN'];
  if (serviceNames.some((service) => !urls[service]) || !admin_token) throw new UsageError('a given platform needs all four BENCH_<SERVICE>_URL and ADMIN_TOKEN');
  const database = infra.postgres.started ? undefined : { server_url: infra.postgres.url, name: new URL(infra.postgres.url).pathname.slice(1) };
  say(`platform: using the given URLs${database ? ` and database ${database.name}` : ' (no database counters: set DATABASE_URL to its database)'}`);
  return { urls: urls as Record<ServiceName, string>, admin_token, database };
}

async function distinctPorts(): Promise<Record<ServiceName, number>> {
  const chosen = new Set<number>();
  while (chosen.size < serviceNames.length) chosen.add(await findFreePort());
  const ports = [...chosen];
  return Object.fromEntries(serviceNames.map((service, index) => [service, ports[index]])) as Record<ServiceName, number>;
}

interface Bench {
  clients: Clients;
  merchants: BenchMerchant[];
  holders: BenchHolder[];
  stream_clock: DeliveryClock;
  webhook_clock: DeliveryClock;
}

/** Merchants (webhook endpoint: the bench), funded holders, one open stream per merchant. */
async function prepare(platform: Platform, options: PaymentsBenchOptions): Promise<Bench> {
  const sockets = options.concurrency * open_loop_clients_factor + sockets_slack;
  const clients: Clients = {
    accounts: new HttpClient(platform.urls.accounts, sockets),
    merchants: new HttpClient(platform.urls.merchants, sockets),
    payments: new HttpClient(platform.urls.payments, sockets),
  };
  lifecycle.defer('close the HTTP clients', async () => Object.values(clients).forEach((client) => client.close()));
  const stream_clock = new DeliveryClock();
  const webhook_clock = new DeliveryClock();
  const webhooks = await WebhookListener.start(webhook_clock);
  lifecycle.defer('stop the webhook listener', () => webhooks.close());
  say(`setup: ${options.merchants} merchants with their webhook endpoint at ${webhooks.url}, ${options.holders} funded holders ...`);
  const merchants = await createMerchants(clients, platform.admin_token, options.merchants, webhooks.url);
  const holders = await createHolders(clients, platform.admin_token, options.holders, run_id);
  const streams: WebSocket[] = [];
  lifecycle.defer('close the streams', async () => streams.forEach((stream) => stream.terminate()));
  for (const merchant of merchants) {
    const token = await streamToken(clients, merchant);
    const onClose = (reason: string) => void (lifecycle.isFinishing || lifecycle.finish(1, `a merchant's ${reason}`));
    streams.push(await openStream(platform.urls.push, token, stream_clock, onClose));
  }
  say(`setup: done, ${streams.length} streams open`);
  return { clients, merchants, holders, stream_clock, webhook_clock };
}

interface PhaseContext extends Bench {
  infra: Infra;
  platform: Platform;
  options: PaymentsBenchOptions;
  statements: boolean;
}

interface PhaseShape {
  name: string;
  shape: string;
  clients: number;
  hot: boolean;
  rate_per_s?: number;
  /** Instead of the options' phase length. */
  duration_s?: number;
}

function pickMerchant(merchants: readonly BenchMerchant[], hot: boolean): BenchMerchant {
  const [first] = merchants;
  if (hot && first && Math.random() < hot_share) return first;
  return merchants[Math.floor(Math.random() * merchants.length)] ?? (first as BenchMerchant);
}

async function flowPhase(context: PhaseContext, phase: PhaseShape): Promise<FlowPhase> {
  const { clients, merchants, holders, options, platform, infra } = context;
  if (platform.database) await checkpoint(platform.database.server_url);
  const duration_s = phase.duration_s ?? options.duration_s;
  say(`${phase.name}: ${options.warmup_s} s warm-up, then ${duration_s} s measured (${phase.shape})`);
  const before = await sampleAll(context);
  const rss = new RssWatch(platform.urls);
  const cpu = cpuMeter({
    bench: ownCpuSeconds,
    postgres: () => (infra.postmaster_pid === undefined ? undefined : processTreeCpuSeconds(infra.postmaster_pid)),
    nats: () => (infra.nats_pid === undefined ? undefined : processCpuSeconds(infra.nats_pid)),
  });
  const started_ms = performance.now();
  const onPaid = (intent: string, at_ms: number) => {
    context.stream_clock.answer(intent, at_ms);
    context.webhook_clock.answer(intent, at_ms);
  };
  const load = await runLoad({
    name: phase.name,
    unit: 'payments',
    warmup_ms: options.warmup_s * 1000,
    duration_ms: duration_s * 1000,
    concurrency: phase.clients,
    rate_per_s: phase.rate_per_s,
    signal: lifecycle.abort.signal,
    progress_interval_ms,
    onProgress: (line) => {
      rss.sample();
      say(line);
    },
    send: async (sequence) => {
      const holder = holders[Math.floor(Math.random() * holders.length)] as BenchHolder;
      const amount = 1 + Math.floor(Math.random() * payment_amount_minor_max);
      const answer = await makePayment(clients, pickMerchant(merchants, phase.hot), holder, amount, `bench-${run_id}-${sequence}`, onPaid);
      return answer.outcome;
    },
  });
  const phase_cpu = cpu.read();
  const wall_s = (performance.now() - started_ms) / 1000;
  await rss.sample();
  const after = await sampleAll(context);
  await drain(context);
  const heard = [...new Set([...context.stream_clock.heardIntents(), ...context.webhook_clock.heardIntents()])];
  const commits = platform.database && heard.length > 0 ? await intentCommitTimes(platform.database.server_url, platform.database.name, heard) : undefined;
  const figures = perPayment(before, after, load, phase_cpu, wall_s);
  const result: FlowPhase = {
    name: phase.name,
    shape: phase.shape,
    load,
    payments: load.total.ok,
    per_payment: figures,
    rss_mb_max: rss.max(),
    rss_timeline: rss.timeline(),
    stream: context.stream_clock.take(commits),
    webhook: context.webhook_clock.take(commits),
    fanout_lag_ms_mean: fanoutLagMean(before.services.push, after.services.push),
    top_statements: after.statements.top.map((statement) => ({ query: statement.query, calls: statement.calls / Math.max(1, load.total.ok) })),
  };
  sayPhase(result);
  return result;
}

interface Sample {
  services: Record<ServiceKey, ServiceSample>;
  nats: { in_msgs: number; out_msgs: number } | undefined;
  database: { transactions: number; tuples_written: number } | undefined;
  statements: { statements: number | undefined; top: { query: string; calls: number }[] };
}

/** Every counter now; statements since the last reset (the counters reset at each phase's start). */
async function sampleAll(context: PhaseContext): Promise<Sample> {
  const { platform, infra } = context;
  const database = platform.database;
  const services = Object.fromEntries(await Promise.all(service_keys.map(async (service) => [service, await sampleService(platform.urls[service])] as const))) as Sample['services'];
  const [nats, counters, rows] = await Promise.all([
    sampleNats(infra.nats_monitor_url),
    database ? sampleDatabase(database.server_url, database.name) : undefined,
    database && context.statements ? readStatements(database.server_url, database.name) : undefined,
  ]);
  const statements = rows ? summariseStatements(rows) : { statements: undefined, top: [] };
  if (rows && database) await resetStatements(database.server_url);
  return { services, nats, database: counters, statements };
}

function perPayment(before: Sample, after: Sample, load: LoadResult, cpu: Record<'bench' | 'postgres' | 'nats', number | undefined>, wall_s: number): FlowPhase['per_payment'] {
  const payments = Math.max(1, load.total.ok);
  const per = (value: number | undefined) => (value === undefined ? undefined : value / payments);
  const delta = (from: number | undefined, to: number | undefined) => (from === undefined || to === undefined ? undefined : to - from);
  const cores_ms = (cores: number | undefined) => per(cores === undefined ? undefined : cores * wall_s * 1000);
  const service_ms = Object.fromEntries(service_keys.map((service) => [service, per(mul(delta(before.services[service].cpu_s, after.services[service].cpu_s), 1000))]));
  const nats = before.nats && after.nats ? after.nats.in_msgs - before.nats.in_msgs + (after.nats.out_msgs - before.nats.out_msgs) : undefined;
  return {
    statements: per(after.statements.statements),
    transactions: per(delta(before.database?.transactions, after.database?.transactions)) ?? Number.NaN,
    tuples_written: per(delta(before.database?.tuples_written, after.database?.tuples_written)) ?? Number.NaN,
    nats_msgs: per(nats),
    cpu_ms: { ...(service_ms as Record<ServiceKey, number | undefined>), postgres: cores_ms(cpu.postgres), nats: cores_ms(cpu.nats), bench: cores_ms(cpu.bench) },
  };
}

/** The mean of push's JetStream-to-frame histogram over the phase, in ms. */
function fanoutLagMean(before: ServiceSample, after: ServiceSample): number | undefined {
  if (before.fanout_lag === undefined || after.fanout_lag === undefined) return undefined;
  const count = after.fanout_lag.count - before.fanout_lag.count;
  return count > 0 ? ((after.fanout_lag.sum_s - before.fanout_lag.sum_s) / count) * 1_000 : undefined;
}

function mul(value: number | undefined, factor: number): number | undefined {
  return value === undefined ? undefined : value * factor;
}

/** The RSS each service reported while the phase ran: the largest, and every sample with its time. */
class RssWatch {
  private readonly largest: Partial<Record<ServiceKey, number>> = {};
  private readonly samples: RssSample[] = [];
  private readonly started_ms = performance.now();

  constructor(private readonly urls: Record<ServiceName, string>) {}

  async sample(): Promise<void> {
    const at_s = (performance.now() - this.started_ms) / 1000;
    const mb = Object.fromEntries(
      await Promise.all(
        service_keys.map(async (service) => {
          const { rss_bytes } = await sampleService(this.urls[service]);
          if (rss_bytes !== undefined) this.largest[service] = Math.max(this.largest[service] ?? 0, rss_bytes / one_mb);
          return [service, rss_bytes === undefined ? undefined : rss_bytes / one_mb] as const;
        }),
      ),
    ) as RssSample['mb'];
    this.samples.push({ at_s, mb });
  }

  timeline(): RssSample[] {
    return [...this.samples];
  }

  max(): Record<ServiceKey, number | undefined> {
    return Object.fromEntries(service_keys.map((service) => [service, this.largest[service]])) as Record<ServiceKey, number | undefined>;
  }
}

/** Waits (bounded) until the listeners heard every payment answered, so one phase's backlog does not load the next. */
async function drain(context: PhaseContext): Promise<void> {
  const deadline = performance.now() + drain_timeout_ms;
  while (performance.now() < deadline && (context.stream_clock.waiting > 0 || context.webhook_clock.waiting > 0)) await sleep(drain_poll_ms);
}

function sayPhase(phase: FlowPhase): void {
  const { p50_ms, p99_ms, p999_ms } = phase.load.latency;
  const ms = (value: number | undefined) => (value === undefined ? 'n/a' : `${value.toFixed(1)} ms`);
  say(
    `${phase.name}: ${phase.load.transfers_per_s.toFixed(1)} payments/s, p50 ${ms(p50_ms)}, p99 ${ms(p99_ms)}, p99.9 ${ms(p999_ms)}, ${phase.load.total.failed} errors; ` +
      `per payment ${phase.per_payment.statements?.toFixed(1) ?? 'n/a'} statements, ${phase.per_payment.transactions.toFixed(1)} transactions`,
  );
  for (const [kind, count] of Object.entries(phase.load.total.error_kinds)) say(`  ${count} x ${kind}`);
}

async function verifyLedger(clients: Clients, admin_token: string): Promise<FlowRun['ledger']> {
  say('ledger: verifying (GET /v1/ledger/verify) ...');
  const verify = await clients.accounts.json<{ ok: boolean; entries_checked: number; problems: string[] }>('GET', '/v1/ledger/verify', { authorization: `Bearer ${admin_token}` }, undefined, 200);
  const problems = verify.problems.length > 0 ? `: ${verify.problems.slice(0, 5).join('; ')}` : '';
  return { ok: verify.ok, note: `${verify.entries_checked} entries checked${problems}` };
}

/** Prints the tables; writes docs/BENCHMARKS.md only for a sound run. */
async function report(run: FlowRun): Promise<void> {
  say('');
  for (const line of renderFlowTables(run)) say(line);
  say('');
  const errors = [run.uniform, run.hot, run.half, run.single, ...(run.soak ? [run.soak] : [])].reduce((sum, phase) => sum + phase.load.total.failed, 0);
  say(`ledger verify: ${run.ledger.ok ? 'ok' : 'FAILED'}; ${run.ledger.note}`);
  if (!run.ledger.ok || errors > 0) {
    say(`error: the run is not sound (${errors} failed payments, ledger ${run.ledger.ok ? 'ok' : 'not ok'}): docs/BENCHMARKS.md left as it was`);
    await lifecycle.finish(1);
  }
  const file = join(root, 'docs', 'BENCHMARKS.md');
  let existing = existsSync(file) ? readFileSync(file, 'utf8') : benchmarks_intro;
  if (!existing.includes(payments_results_begin)) existing = `${existing.trimEnd()}\n\n${payments_intro}`;
  writeFileSync(file, replaceResults(existing, benchmarks_intro, renderFlowResults(run), { begin: payments_results_begin, end: payments_results_end }));
  say(`wrote ${relative(process.cwd(), file) || file}`);
}

runMain(main, usage);
