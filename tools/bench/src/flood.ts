/**
 * `npm run bench:flood`: does one principal's flood slow another down?
 * accounts, merchants and payments from dist with API.md's default budgets
 * (100 a second per principal, 20 per address); one merchant reads its
 * payment intent at a steady rate, alone, then while another merchant floods
 * payments from its own address as fast as it can. Target (issue 15.3): the
 * steady merchant's p99 under the flood within 2x of its p99 alone. The
 * figures go to docs/BENCHMARKS.md; everything started is removed at the end.
 */
import { buildStackEnv, findFreePort, generateAdminToken, generateSecretsKey, serviceDatabaseEnv, type ServiceName } from '@paynet/devstack';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAverage, processorCount } from './machine.js';
import { UsageError } from './options.js';
import { bench_currency, signedHeaders, type BenchMerchant } from './payments/actors.js';
import { HttpClient } from './payments/http.js';
import { formatMs, formatRate, replaceResults } from './report.js';
import { sampleService } from './payments/probes.js';
import { lifecycle, ownCpuSeconds, ownDatabase, ownServiceRoles, root, run_id, runMain, say, startBenchService, startInfra } from './run.js';
import { LatencyRecorder, type LatencySummary } from './stats.js';

export const flood_results_begin = '<!-- bench:flood results begin: written by `npm run bench:flood`, replaced on each run -->';
export const flood_results_end = '<!-- bench:flood results end -->';
const usage = `usage: npm run bench:flood -- [--duration SECONDS] [--steady-rate N] [--flood-rate N] [--quick]
  --duration     seconds of each phase (default 20)
  --steady-rate  the steady merchant's reads a second (default 20)
  --flood-rate   the flood's requests a second (default 1000, 10 times its budget; 0: each sent again as soon as it is answered)
  --quick        5 s phases: a smoke run, not written to docs/BENCHMARKS.md`;

/** The steady merchant's reads a second by default: well inside its budget of 100. */
const steady_per_second_default = 20;
/** The steady merchant's sockets: as many as the flood's, so a slow answer never holds the next read back in the client. */
const steady_sockets = 32;
/** The flooding merchant's requests in flight at once, at most. */
const flood_concurrency = 32;
/**
 * The flood's requests a second by default: 10 times its budget, more than
 * the unpaced flood reached before refusals were cheap (778/s). Paced, because
 * the load generator shares the machine's cores with the services: once a
 * 429 costs payments less than sending it costs the generator, an unpaced
 * flood measures the generator's CPU, not the services' isolation.
 */
const flood_per_second_default = 1_000;
/** Target of issue 15.3. */
const p99_ratio_max = 2;
const duration_s_default = 20;
const duration_s_quick = 5;
// Three Nest services booting and migrating on a busy 2-core machine.
const service_ready_timeout_ms = 120_000;
const services = ['accounts', 'merchants', 'payments'] as const satisfies readonly ServiceName[];
/** Client addresses (RFC 5737 documentation range) given by X-Forwarded-For from the trusted loopback proxy. */
const steady_address = '198.51.100.1';
const flood_address = '198.51.100.2';

/** The flood's first second (its onset: new connections, a credential not yet seen, a burst before pacing has a rate to hold it to), reported apart as well. */
const onset_ms = 1_000;

interface Phase {
  latency: LatencySummary;
  /** The steady reads sent from the phase's second second on: a flood under way, its onset left out. */
  sustained: LatencySummary;
  /** The steady merchant's answers other than 200 (a 429 here would be a failure of isolation). */
  steady_failures: Record<string, number>;
  /** The flood's answers by status, and its rate. */
  flood: Record<string, number>;
  flood_per_s: number;
  /** CPU seconds used during the phase by payments (which the flood hits), merchants (which checks signatures) and this load generator. */
  cpu_s: { payments: number | undefined; merchants: number | undefined; bench: number };
  /** How long the phase took, the CPU figures' wall time. */
  wall_s: number;
}

function parseArguments(argv: readonly string[]): { duration_s: number; steady_per_second: number; flood_per_second: number; quick: boolean } {
  let duration_s = duration_s_default;
  let steady_per_second = steady_per_second_default;
  let flood_per_second = flood_per_second_default;
  let quick = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--quick') quick = true;
    else if (argument === '--duration') duration_s = Number(argv[++index]);
    else if (argument === '--steady-rate') steady_per_second = Number(argv[++index]);
    else if (argument === '--flood-rate') flood_per_second = Number(argv[++index]);
    else throw new UsageError(`unknown argument ${argument}`);
  }
  if (!Number.isInteger(duration_s) || duration_s < 1 || duration_s > 600) throw new UsageError('--duration must be 1 to 600 seconds');
  if (!Number.isInteger(steady_per_second) || steady_per_second < 1 || steady_per_second > 100) throw new UsageError('--steady-rate must be 1 to 100 reads a second');
  if (!Number.isInteger(flood_per_second) || flood_per_second < 0 || flood_per_second > 100_000) throw new UsageError('--flood-rate must be 0 to 100000 requests a second');
  return { duration_s: quick ? duration_s_quick : duration_s, steady_per_second, flood_per_second, quick };
}

async function main(): Promise<void> {
  const { duration_s, steady_per_second, flood_per_second, quick } = parseArguments(process.argv.slice(2));
  lifecycle.handleSignals();
  const load_before = loadAverage();
  const infra = await startInfra();
  const { urls, admin_token } = await startPlatform(infra);
  const merchants = new HttpClient(urls.merchants, 4);
  // Open loop: enough sockets that the steady reads never queue in the client, only in the services.
  const steady_client = new HttpClient(urls.payments, steady_sockets);
  const flood_client = new HttpClient(urls.payments, flood_concurrency);
  lifecycle.defer('close the HTTP clients', async () => {
    for (const client of [merchants, steady_client, flood_client]) client.close();
  });
  const [steady, flooder] = [await createMerchant(merchants, admin_token, 'steady'), await createMerchant(merchants, admin_token, 'flood')];
  const intent = await createIntent(steady_client, steady);
  const read_path = `/v1/payment-intents/${intent}`;

  say(`alone: the steady merchant reads its intent ${steady_per_second} times a second for ${duration_s} s`);
  const alone = await measure({ steady, steady_client, read_path, duration_s, steady_per_second, urls });
  say(`alone: p50 ${formatMs(alone.latency.p50_ms)}, p99 ${formatMs(alone.latency.p99_ms)} (from the second second ${formatMs(alone.sustained.p99_ms)})`);
  say(`flooded: the same, while another merchant floods payments: ${floodPace(flood_per_second)}`);
  const flooded = await measure({ steady, steady_client, read_path, duration_s, steady_per_second, urls, flood: { merchant: flooder, client: flood_client, per_second: flood_per_second } });
  say(`flooded: p50 ${formatMs(flooded.latency.p50_ms)}, p99 ${formatMs(flooded.latency.p99_ms)} (from the second second ${formatMs(flooded.sustained.p99_ms)}); flood ${formatRate(flooded.flood_per_s)}/s ${JSON.stringify(flooded.flood)}`);
  say(`CPU: ${cpuLine(alone, flooded)}`);
  const load_after = loadAverage();
  say(`load average before ${load_before}, after ${load_after}`);
  if (quick) {
    say('a --quick run: docs/BENCHMARKS.md left as it is');
    return;
  }
  const file = join(root, 'docs', 'BENCHMARKS.md');
  const results = renderFlood({ date: new Date(), duration_s, steady_per_second, flood_per_second, load_before, load_after, alone, flooded });
  writeFileSync(file, replaceResults(readFileSync(file, 'utf8'), '', results, { begin: flood_results_begin, end: flood_results_end }));
  say(`docs/BENCHMARKS.md: flood results written`);
}

/** accounts (merchants make their ledger accounts there), merchants and payments, with the default budgets. */
async function startPlatform(infra: Awaited<ReturnType<typeof startInfra>>): Promise<{ urls: Record<(typeof services)[number], string>; admin_token: string }> {
  const roles = ownServiceRoles(infra.postgres.url, `bench_flood_${run_id}`);
  const database_url = await ownDatabase(infra.postgres.url, `bench_flood_${run_id}`);
  const ports = { accounts: await findFreePort(), merchants: await findFreePort(), payments: await findFreePort(), push: await findFreePort() };
  const admin_token = generateAdminToken();
  const env = {
    ...buildStackEnv({ databaseUrl: database_url, natsUrl: infra.nats.url, natsPrefix: `bench_${run_id}`, adminToken: admin_token, secretsKey: generateSecretsKey(), ports, logLevel: 'warn', webhookAllowPrivate: true }),
    TRUST_PROXY: 'loopback',
  };
  say('platform: starting accounts, merchants and payments from dist, default rate limits ...');
  const urls = {} as Record<(typeof services)[number], string>;
  // Each service on its own database role, the owner migrating (as deployed).
  await Promise.all(
    services.map(async (service) => (urls[service] = await startBenchService(infra, service, { ...env, ...serviceDatabaseEnv(database_url, roles, service) }, ports[service], service_ready_timeout_ms))),
  );
  return { urls, admin_token };
}

async function createMerchant(client: HttpClient, admin_token: string, name: string): Promise<BenchMerchant> {
  const headers = { authorization: `Bearer ${admin_token}` };
  return client.json<BenchMerchant>('POST', '/v1/merchants', headers, { name: `Flood bench ${name}`, currency: bench_currency }, 201);
}

async function createIntent(client: HttpClient, merchant: BenchMerchant): Promise<string> {
  const path = '/v1/payment-intents';
  const body = JSON.stringify({ amount: 100, currency: bench_currency, reference: `flood-${run_id}` });
  const headers = () => ({ ...signedHeaders(merchant, 'POST', path, body), 'idempotency-key': `flood-${run_id}`, 'x-forwarded-for': steady_address });
  const answer = await client.send('POST', path, headers, body);
  if (answer.status !== 201) throw new Error(`creating the intent answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  return (JSON.parse(answer.text) as { id: string }).id;
}

interface MeasureSettings {
  steady: BenchMerchant;
  steady_client: HttpClient;
  read_path: string;
  duration_s: number;
  steady_per_second: number;
  urls: Record<(typeof services)[number], string>;
  flood?: { merchant: BenchMerchant; client: HttpClient; per_second: number };
}

/** Pure: how the flood is sent, in words. */
export function floodPace(per_second: number): string {
  const paced = per_second === 0 ? 'each request sent again as soon as it is answered' : `${per_second} requests a second`;
  return `${paced}, at most ${flood_concurrency} in flight, Retry-After ignored`;
}

/**
 * When the flood's next request is due: `per_second` a second from the
 * start, at once when 0. A generator that fell behind (all its requests in
 * flight) catches up at most 100 ms of them.
 */
function floodPacer(per_second: number): () => Promise<void> {
  const interval_ms = per_second === 0 ? 0 : 1_000 / per_second;
  let next_due_ms = performance.now();
  return async () => {
    if (interval_ms === 0) return;
    const now_ms = performance.now();
    const due_ms = Math.max(next_due_ms, now_ms - 100);
    next_due_ms = due_ms + interval_ms;
    if (due_ms > now_ms) await new Promise((resolve) => setTimeout(resolve, due_ms - now_ms));
  };
}

/** CPU seconds of payments, merchants and the load generator so far. */
async function cpuNow(urls: MeasureSettings['urls']): Promise<Phase['cpu_s']> {
  const [payments, merchants] = await Promise.all([sampleService(urls.payments), sampleService(urls.merchants)]);
  return { payments: payments.cpu_s, merchants: merchants.cpu_s, bench: ownCpuSeconds() };
}

function cpuSpent(before: Phase['cpu_s'], after: Phase['cpu_s']): Phase['cpu_s'] {
  const minus = (later: number | undefined, earlier: number | undefined) => (later === undefined || earlier === undefined ? undefined : later - earlier);
  return { payments: minus(after.payments, before.payments), merchants: minus(after.merchants, before.merchants), bench: after.bench - before.bench };
}

/**
 * Pure: what the flood cost, as counts that a loaded machine does not bend
 * much: CPU ms a second of each process in each phase, and payments' CPU per
 * flood request (what the flooded phase used beyond the alone phase, over the
 * flood's answers, 200 and 429 alike).
 */
export function cpuLine(alone: Phase, flooded: Phase): string {
  const per_s = (phase: Phase, name: keyof Phase['cpu_s']) => {
    const spent = phase.cpu_s[name];
    return spent === undefined ? 'n/a' : `${Math.round((spent * 1_000) / phase.wall_s)} ms/s`;
  };
  const flood_answers = Object.values(flooded.flood).reduce((sum, count) => sum + count, 0);
  const [alone_s, flooded_s] = [alone.cpu_s.payments, flooded.cpu_s.payments];
  const per_request =
    alone_s === undefined || flooded_s === undefined || flood_answers === 0
      ? 'n/a'
      : `${Math.round(((flooded_s - (alone_s * flooded.wall_s) / alone.wall_s) * 1e6) / flood_answers)} us`;
  const phases = (name: keyof Phase['cpu_s']) => `${name} ${per_s(alone, name)} alone, ${per_s(flooded, name)} flooded`;
  return `${phases('payments')}; ${phases('merchants')}; load generator ${per_s(alone, 'bench')} alone, ${per_s(flooded, 'bench')} flooded; payments per flood request ${per_request}`;
}

/** The steady merchant's reads, open loop (each sent when due, whatever the others are doing), with or without the flood. */
async function measure(settings: MeasureSettings): Promise<Phase> {
  const { steady, steady_client, read_path, duration_s, steady_per_second } = settings;
  const recorder = new LatencyRecorder(steady_per_second * duration_s + 1);
  const sustained = new LatencyRecorder(steady_per_second * duration_s + 1);
  const steady_failures: Record<string, number> = {};
  const flood: Record<string, number> = {};
  let flooding = settings.flood !== undefined;
  const cpu_before = await cpuNow(settings.urls);
  const flood_started_ms = performance.now();
  const pace = floodPacer(settings.flood?.per_second ?? 0);
  const flood_workers = settings.flood
    ? Array.from({ length: flood_concurrency }, async () => {
        const { merchant, client } = settings.flood as NonNullable<MeasureSettings['flood']>;
        const path = '/v1/payment-intents?limit=1';
        while (flooding && !lifecycle.abort.signal.aborted) {
          await pace();
          if (!flooding) break;
          const answer = await client.send('GET', path, () => ({ ...signedHeaders(merchant, 'GET', path, undefined), 'x-forwarded-for': flood_address })).catch(() => ({ status: 0 }));
          flood[answer.status] = (flood[answer.status] ?? 0) + 1;
        }
      })
    : [];
  const started_ms = performance.now();
  const reads: Promise<void>[] = [];
  for (let index = 0; index < steady_per_second * duration_s && !lifecycle.abort.signal.aborted; index++) {
    const due_ms = started_ms + (index * 1_000) / steady_per_second;
    const wait_ms = due_ms - performance.now();
    if (wait_ms > 0) await new Promise((resolve) => setTimeout(resolve, wait_ms));
    reads.push(
      (async () => {
        const sent_ms = performance.now();
        const answer = await steady_client.send('GET', read_path, () => ({ ...signedHeaders(steady, 'GET', read_path, undefined), 'x-forwarded-for': steady_address })).catch(() => ({ status: 0 }));
        const latency_ms = performance.now() - sent_ms;
        recorder.record(latency_ms);
        if (sent_ms - started_ms >= onset_ms) sustained.record(latency_ms);
        if (answer.status !== 200) steady_failures[answer.status] = (steady_failures[answer.status] ?? 0) + 1;
      })(),
    );
  }
  await Promise.all(reads);
  flooding = false;
  const flood_elapsed_s = (performance.now() - flood_started_ms) / 1_000;
  await Promise.all(flood_workers);
  const wall_s = (performance.now() - flood_started_ms) / 1_000;
  const cpu_s = cpuSpent(cpu_before, await cpuNow(settings.urls));
  const flood_total = Object.values(flood).reduce((sum, count) => sum + count, 0);
  return { latency: recorder.summary(), sustained: sustained.summary(), steady_failures, flood, flood_per_s: flood_total / flood_elapsed_s, cpu_s, wall_s };
}

interface FloodRun {
  date: Date;
  duration_s: number;
  steady_per_second: number;
  flood_per_second: number;
  load_before: string;
  load_after: string;
  alone: Phase;
  flooded: Phase;
}

/** Pure: the results block of docs/BENCHMARKS.md. */
export function renderFlood(run: FloodRun): string {
  const { alone, flooded } = run;
  const ratio = alone.latency.p99_ms && flooded.latency.p99_ms ? flooded.latency.p99_ms / alone.latency.p99_ms : undefined;
  const sustained_ratio = alone.sustained.p99_ms && flooded.sustained.p99_ms ? flooded.sustained.p99_ms / alone.sustained.p99_ms : undefined;
  const failures = (phase: Phase) => (Object.keys(phase.steady_failures).length === 0 ? 'none' : JSON.stringify(phase.steady_failures));
  const flood = (phase: Phase) =>
    Object.keys(phase.flood).length === 0 ? '-' : `${formatRate(phase.flood_per_s)}/s (${Object.entries(phase.flood).map(([status, count]) => `${count} x ${status}`).join(', ')})`;
  const row = (name: string, phase: Phase) =>
    `| ${name} | ${phase.latency.count} | ${formatMs(phase.latency.p50_ms)} | ${formatMs(phase.latency.p99_ms)} | ${formatMs(phase.sustained.p99_ms)} | ${failures(phase)} | ${flood(phase)} |`;
  return [
    '### Results of the last run',
    '',
    `${run.date.toISOString().slice(0, 16).replace('T', ' ')} UTC; ${processorCount()} CPUs, load average (1, 5, 15 min) ${run.load_before} at the start and ${run.load_after} at the end (a shared machine: others' work is in these figures); ${run.duration_s} s per phase, the steady merchant at ${run.steady_per_second} reads/s, the flood ${floodPace(run.flood_per_second)}.`,
    '',
    '| phase | steady reads | p50 | p99 | p99 from the second second | steady reads not 200 | flood (answers) |',
    '|---|---|---|---|---|---|---|',
    row('alone', alone),
    row('flooded', flooded),
    '',
    `p99 flooded / alone: ${ratio === undefined ? 'n/a' : ratio.toFixed(2)} (target <= ${p99_ratio_max}: ${ratio !== undefined && ratio <= p99_ratio_max ? 'met' : 'not met'}); from the second second of each phase, the flood's onset left out: ${sustained_ratio === undefined ? 'n/a' : sustained_ratio.toFixed(2)}.`,
    '',
    `CPU: ${cpuLine(alone, flooded)}.`,
  ].join('\n');
}

runMain(main, usage);
