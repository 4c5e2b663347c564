/**
 * `npm run bench:flood`: does one principal's flood slow another down?
 * accounts, merchants and payments from dist with API.md's default budgets
 * (100 a second per principal, 20 per address); one merchant reads its
 * payment intent at a steady rate, alone, then while another merchant floods
 * payments from its own address, first at its budget, then ten times over it.
 * Rounds of the three phases, one after the other on the same platform, so
 * each flooded phase is compared with an alone phase that met the same
 * machine. Target (issue 15.3): the steady merchant's p99 under each flood
 * within 2x of its p99 alone, in the median round. The figures go to
 * docs/BENCHMARKS.md; everything started is removed at the end.
 */
import { buildStackEnv, findFreePort, generateAdminToken, generateSecretsKey, serviceDatabaseEnv, type ServiceName } from '@paynet/devstack';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAverage } from './machine.js';
import { UsageError } from './options.js';
import { bench_currency, signedHeaders, type BenchMerchant } from './payments/actors.js';
import { HttpClient } from './payments/http.js';
import { cpuLine, flood_at_budget_per_second, flood_concurrency, floodPace, formatRatio, renderFlood, roundRatios, summarise, p99_ratio_max, type Phase, type Round } from './flood-report.js';
import { formatMs, formatRate, replaceResults } from './report.js';
import { sampleService } from './payments/probes.js';
import { lifecycle, ownCpuSeconds, ownDatabase, ownServiceRoles, root, run_id, runMain, say, startBenchService, startInfra } from './run.js';
import { LatencyRecorder } from './stats.js';

export const flood_results_begin = '<!-- bench:flood results begin: written by `npm run bench:flood`, replaced on each run -->';
export const flood_results_end = '<!-- bench:flood results end -->';
const usage = `usage: npm run bench:flood -- [--rounds N] [--duration SECONDS] [--steady-rate N] [--flood-rate N] [--quick]
  --rounds       rounds of the three phases (alone, a flood at its budget, a flood over it; default 3)
  --duration     seconds of each phase (default 20)
  --steady-rate  the steady merchant's reads a second (default 20)
  --flood-rate   the over-budget flood's requests a second (default 1000, 10 times its budget; 0: each sent again as soon as it is answered)
  --quick        one round of 5 s phases: a smoke run, not written to docs/BENCHMARKS.md`;

/** The steady merchant's reads a second by default: well inside its budget of 100. */
const steady_per_second_default = 20;
/** The steady merchant's sockets: as many as the flood's, so a slow answer never holds the next read back in the client. */
const steady_sockets = 32;
/**
 * The flood's requests a second by default: 10 times its budget, more than
 * the unpaced flood reached before refusals were cheap (778/s). Paced, because
 * the load generator shares the machine's cores with the services: once a
 * 429 costs payments less than sending it costs the generator, an unpaced
 * flood measures the generator's CPU, not the services' isolation.
 */
const flood_per_second_default = 1_000;
const rounds_default = 3;
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

interface Settings {
  rounds: number;
  duration_s: number;
  steady_per_second: number;
  flood_per_second: number;
  quick: boolean;
}

function parseArguments(argv: readonly string[]): Settings {
  let rounds = rounds_default;
  let duration_s = duration_s_default;
  let steady_per_second = steady_per_second_default;
  let flood_per_second = flood_per_second_default;
  let quick = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--quick') quick = true;
    else if (argument === '--rounds') rounds = Number(argv[++index]);
    else if (argument === '--duration') duration_s = Number(argv[++index]);
    else if (argument === '--steady-rate') steady_per_second = Number(argv[++index]);
    else if (argument === '--flood-rate') flood_per_second = Number(argv[++index]);
    else throw new UsageError(`unknown argument ${argument}`);
  }
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new UsageError('--rounds must be 1 to 20');
  if (!Number.isInteger(duration_s) || duration_s < 1 || duration_s > 600) throw new UsageError('--duration must be 1 to 600 seconds');
  if (!Number.isInteger(steady_per_second) || steady_per_second < 1 || steady_per_second > 100) throw new UsageError('--steady-rate must be 1 to 100 reads a second');
  if (!Number.isInteger(flood_per_second) || flood_per_second < 0 || flood_per_second > 100_000) throw new UsageError('--flood-rate must be 0 to 100000 requests a second');
  return quick ? { rounds: 1, duration_s: duration_s_quick, steady_per_second, flood_per_second, quick } : { rounds, duration_s, steady_per_second, flood_per_second, quick };
}

async function main(): Promise<void> {
  const { rounds: rounds_count, duration_s, steady_per_second, flood_per_second, quick } = parseArguments(process.argv.slice(2));
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

  const flood = (per_second: number) => ({ merchant: flooder, client: flood_client, per_second });
  const phase_line = (phase: Phase) =>
    `p50 ${formatMs(phase.latency.p50_ms)}, p99 ${formatMs(phase.latency.p99_ms)} (from the second second ${formatMs(phase.sustained.p99_ms)})` +
    (Object.keys(phase.flood).length === 0 ? '' : `; flood ${formatRate(phase.flood_per_s)}/s ${JSON.stringify(phase.flood)}`);
  const rounds: Round[] = [];
  for (let round = 1; round <= rounds_count; round++) {
    const common = { steady, steady_client, read_path, duration_s, steady_per_second, urls };
    say(`round ${round} of ${rounds_count}: the steady merchant reads its intent ${steady_per_second} times a second for ${duration_s} s, alone ...`);
    const alone = await measure(common);
    say(`  alone: ${phase_line(alone)}`);
    say(`  ... while another merchant floods payments at its budget: ${floodPace(flood_at_budget_per_second)}`);
    const at_budget = await measure({ ...common, flood: flood(flood_at_budget_per_second) });
    say(`  at budget: ${phase_line(at_budget)}`);
    say(`  ... while it floods over its budget: ${floodPace(flood_per_second)}`);
    const over_budget = await measure({ ...common, flood: flood(flood_per_second) });
    say(`  over budget: ${phase_line(over_budget)}`);
    const measured: Round = { alone, at_budget, over_budget };
    rounds.push(measured);
    const ratio = roundRatios(measured);
    say(`  p99 flooded / alone: at budget ${formatRatio(ratio.at_budget)}, over budget ${formatRatio(ratio.over_budget)}`);
  }
  const summary = summarise(rounds);
  say(`median of ${rounds.length} round(s), p99 flooded / alone: at budget ${formatRatio(summary.at_budget.median)}, over budget ${formatRatio(summary.over_budget.median)} (target <= ${p99_ratio_max}: ${summary.met ? 'met' : 'not met'})`);
  say(`CPU, the last round: ${cpuLine(rounds[rounds.length - 1] as Round)}`);
  const load_after = loadAverage();
  say(`load average before ${load_before}, after ${load_after}`);
  if (quick) {
    say('a --quick run: docs/BENCHMARKS.md left as it is');
    return;
  }
  const file = join(root, 'docs', 'BENCHMARKS.md');
  const results = renderFlood({ date: new Date(), duration_s, steady_per_second, flood_per_second, load_before, load_after, rounds });
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


runMain(main, usage);
