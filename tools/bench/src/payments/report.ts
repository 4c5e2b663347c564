/**
 * The end-to-end section of docs/BENCHMARKS.md, between its own markers.
 * Pure: the caller collects the figures and writes the file.
 */
import type { LoadResult } from '../load.js';
import type { PgbenchResult } from '../pgbench.js';
import { formatMs, formatRate, machineTable, runHeading, type MachineInfo } from '../report.js';
import type { DeliverySummary } from './delivery.js';
import type { PaymentsBenchOptions } from './options.js';
import type { StatementCount } from './probes.js';

export const payments_results_begin = '<!-- bench results begin: written by `npm run bench`, replaced on each run -->';
export const payments_results_end = '<!-- bench results end -->';

/** Issue 13's targets for the end-to-end flow. */
export const flow_targets = {
  uniform_over_pgbench_min: 0.25,
  half_load_p99_ms_max: 25,
  single_client_p50_ms_max: 15,
  transactions_per_payment_max: 5,
  statements_per_payment_max: 20,
  hot_over_uniform_min: 0.9,
  rss_mb_max: 150,
  /** "Flat over a 10-minute run": from the end of the soak's first minute to its end, each service grows by at most this share. */
  soak_rss_growth_max: 0.1,
  /** Issue 14: from a payment's commit to its frame on the merchant's stream, p99 at half load. */
  half_load_commit_to_frame_p99_ms_max: 50,
} as const;

/** A soak shorter than this has no "after the first minute" to compare with. */
const soak_settled_s = 60;

export const service_keys = ['accounts', 'merchants', 'payments', 'push'] as const;
export type ServiceKey = (typeof service_keys)[number];

/** Per payment: counters over the whole phase (warm-up and tail included) divided by the payments made in it. */
export interface PerPayment {
  /** Undefined without pg_stat_statements. */
  statements: number | undefined;
  transactions: number;
  tuples_written: number;
  /** Messages into and out of nats-server; undefined without its /varz. */
  nats_msgs: number | undefined;
  cpu_ms: Record<ServiceKey | 'postgres' | 'nats' | 'bench', number | undefined>;
}

export interface FlowPhase {
  name: string;
  /** How the load was made, one line. */
  shape: string;
  load: LoadResult;
  /** Payments made in the whole phase (the per-payment figures' divisor). */
  payments: number;
  per_payment: PerPayment;
  /** The largest resident set each service had while the phase ran, in MB. */
  rss_mb_max: Record<ServiceKey, number | undefined>;
  /** Every RSS sample of the phase (every progress line), seconds from its start. */
  rss_timeline?: RssSample[];
  stream: DeliverySummary;
  webhook: DeliverySummary;
  /** push's part of commit-to-frame: from the event's store in JetStream to its frames queued (mean of push's histogram); undefined when not exposed. */
  fanout_lag_ms_mean?: number;
  /** The most called statements, calls per payment. */
  top_statements: StatementCount[];
}

export interface RssSample {
  at_s: number;
  mb: Record<ServiceKey, number | undefined>;
}

export interface FlowRun {
  date: Date;
  machine: MachineInfo;
  settings: PaymentsBenchOptions & { pgbench_clients: number; pgbench_threads: number; pgbench_scale: number; amount_max: number };
  pgbench: PgbenchResult;
  uniform: FlowPhase;
  hot: FlowPhase;
  half: FlowPhase;
  single: FlowPhase;
  /** `--soak <s>`: a long saturated phase, for memory over time. */
  soak?: FlowPhase;
  ledger: { ok: boolean; note: string };
}

const phaseList = (run: FlowRun): FlowPhase[] => [run.uniform, run.hot, run.half, run.single];

function rate(phase: FlowPhase): number {
  return phase.load.transfers_per_s;
}

/** Figures, per-payment costs, and the targets: markdown tables (printed and written). */
export function renderFlowTables(run: FlowRun): string[] {
  const phases = phaseList(run);
  return [
    '| phase | payments/s | x pgbench | create+pay p50 | p99 | p99.9 | errors | commit to WebSocket frame p50 / p99 | commit to webhook p50 / p99 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| pgbench tpcb-like (${run.settings.pgbench_clients} clients, scale ${run.settings.pgbench_scale}) | ${formatRate(run.pgbench.tps)} tps | 1.00 | ${formatMs(run.pgbench.latency_average_ms)} (mean) | | | ${run.pgbench.failed ?? 0} | | |`,
    ...phases.map((phase) => phaseRow(phase, run.pgbench.tps)),
    '',
    `| per payment | ${phases.map((phase) => phase.name).join(' | ')} |`,
    `|---|${phases.map(() => '---:').join('|')}|`,
    ...perPaymentRows(phases),
    '',
    '| target | value | bound | |',
    '|---|---:|---:|---|',
    ...targetRows(run),
  ];
}

function phaseRow(phase: FlowPhase, pgbench_tps: number): string {
  const { p50_ms, p99_ms, p999_ms } = phase.load.latency;
  return `| ${phase.name} | ${formatRate(rate(phase))} | ${(rate(phase) / pgbench_tps).toFixed(3)} | ${formatMs(p50_ms)} | ${formatMs(p99_ms)} | ${formatMs(p999_ms)} | ${phase.load.measured.failed} | ${delivery(phase.stream)} | ${delivery(phase.webhook)} |`;
}

/** From the commit when its timestamps were read; else from the pay's answer, a lower bound, marked `>=`. */
function delivery(summary: DeliverySummary): string {
  const missing = summary.missing > 0 ? ` (${summary.missing} not heard)` : '';
  const exact = summary.from_commit !== undefined && summary.from_commit.count > 0 ? summary.from_commit : undefined;
  if (exact) return `${formatMs(exact.p50_ms)} / ${formatMs(exact.p99_ms)}${missing}`;
  return `>= ${formatMs(summary.p50_ms)} / >= ${formatMs(summary.p99_ms)} (from the answer)${missing}`;
}

/** The commit-to-frame p99, or its lower bound from the pay's answer when commit times were not read. */
function commitToFrameP99(summary: DeliverySummary): number | undefined {
  return summary.from_commit !== undefined && summary.from_commit.count > 0 ? summary.from_commit.p99_ms : summary.p99_ms;
}

function perPaymentRows(phases: readonly FlowPhase[]): string[] {
  const row = (label: string, value: (phase: FlowPhase) => number | undefined, digits = 1) =>
    `| ${label} | ${phases.map((phase) => figure(value(phase), digits)).join(' | ')} |`;
  return [
    row('SQL statements (pg_stat_statements, without BEGIN/COMMIT)', (phase) => phase.per_payment.statements),
    row('transactions (pg_stat_database)', (phase) => phase.per_payment.transactions),
    row('rows written', (phase) => phase.per_payment.tuples_written),
    row('NATS messages in + out (/varz)', (phase) => phase.per_payment.nats_msgs),
    ...service_keys.map((service) => row(`CPU ms, ${service}`, (phase) => phase.per_payment.cpu_ms[service], 2)),
    row('CPU ms, PostgreSQL', (phase) => phase.per_payment.cpu_ms.postgres, 2),
    row('CPU ms, nats-server', (phase) => phase.per_payment.cpu_ms.nats, 2),
    row('CPU ms, the bench (load generator and listeners)', (phase) => phase.per_payment.cpu_ms.bench, 2),
    ...service_keys.map((service) => `| RSS max, ${service} (MB) | ${phases.map((phase) => figure(phase.rss_mb_max[service], 0)).join(' | ')} |`),
    row('per event: JetStream to frame queued in push, mean ms (the rest of commit-to-frame is payments to JetStream)', (phase) => phase.fanout_lag_ms_mean, 2),
  ];
}

function figure(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

function targetRows(run: FlowRun): string[] {
  const t = flow_targets;
  const rss = Math.max(...service_keys.map((service) => run.uniform.rss_mb_max[service] ?? Number.NaN));
  return [
    targetRow('saturated uniform / pgbench tpcb-like', rate(run.uniform) / run.pgbench.tps, '>=', t.uniform_over_pgbench_min, 3),
    targetRow('hot merchant / uniform', rate(run.hot) / rate(run.uniform), '>=', t.hot_over_uniform_min, 2),
    targetRow('create+pay p99 at half load (ms)', run.half.load.latency.p99_ms, '<=', t.half_load_p99_ms_max, 1),
    targetRow('commit to WebSocket frame p99 at half load (ms)', commitToFrameP99(run.half.stream), '<=', t.half_load_commit_to_frame_p99_ms_max, 1),
    targetRow('one client create+pay p50 (ms)', run.single.load.latency.p50_ms, '<=', t.single_client_p50_ms_max, 1),
    targetRow('transactions per payment (saturated uniform)', run.uniform.per_payment.transactions, '<=', t.transactions_per_payment_max, 1),
    targetRow('SQL statements per payment (saturated uniform)', run.uniform.per_payment.statements, '<=', t.statements_per_payment_max, 1),
    targetRow('largest service RSS under saturating load (MB)', rss, '<=', t.rss_mb_max, 0),
    ...(run.soak ? soakTargetRows(run.soak) : []),
  ];
}

/** Each service's RSS after the soak's first minute and at its end. */
function soakSpan(soak: FlowPhase, service: ServiceKey): { settled: number; last: number } | undefined {
  const samples = (soak.rss_timeline ?? []).filter((sample) => sample.mb[service] !== undefined);
  const settled = samples.find((sample) => sample.at_s >= soak_settled_s)?.mb[service];
  const last = samples.at(-1)?.mb[service];
  return settled === undefined || last === undefined ? undefined : { settled, last };
}

function soakTargetRows(soak: FlowPhase): string[] {
  const t = flow_targets;
  const largest = Math.max(...service_keys.map((service) => soak.rss_mb_max[service] ?? Number.NaN));
  const growths = service_keys.map((service) => {
    const span = soakSpan(soak, service);
    return span === undefined ? Number.NaN : (span.last - span.settled) / span.settled;
  });
  return [
    targetRow(`largest service RSS over the ${Math.round(soak.load.duration_s)} s soak (MB)`, largest, '<=', t.rss_mb_max, 0),
    targetRow('largest RSS growth from the soak\'s first minute to its end (share)', Math.max(...growths), '<=', t.soak_rss_growth_max, 3),
  ];
}

/** The services' memory through the soak: a row per service, a column per minute. */
export function renderSoakTable(soak: FlowPhase): string[] {
  const samples = soak.rss_timeline ?? [];
  const minutes: RssSample[] = [];
  for (const sample of samples) {
    if (minutes.length === 0 || sample.at_s >= minutes.length * soak_settled_s) minutes.push(sample);
  }
  const last = samples.at(-1);
  if (last && minutes.at(-1) !== last) minutes.push(last);
  return [
    `RSS (MB) through the soak (${soak.payments.toLocaleString('en-US')} payments at ${soak.load.transfers_per_s.toFixed(1)}/s, ${soak.load.total.failed} errors), sampled at:`,
    '',
    `| service | ${minutes.map((sample) => `${Math.round(sample.at_s)} s`).join(' | ')} | largest |`,
    `|---|${minutes.map(() => '---:').join('|')}|---:|`,
    ...service_keys.map((service) => `| ${service} | ${minutes.map((sample) => figure(sample.mb[service], 0)).join(' | ')} | ${figure(soak.rss_mb_max[service], 0)} |`),
  ];
}

function targetRow(label: string, value: number | undefined, sense: '>=' | '<=', bound: number, digits: number): string {
  const known = value !== undefined && Number.isFinite(value);
  const met = known && (sense === '>=' ? value >= bound : value <= bound);
  return `| ${label} | ${known ? value.toFixed(digits) : 'n/a'} | ${sense} ${bound} | ${known ? (met ? 'met' : 'not met') : 'unknown'} |`;
}

/** The results section: when, on what, the figures, the most called statements, the settings. */
export function renderFlowResults(run: FlowRun): string {
  const { settings } = run;
  return [
    '### Results of the last run',
    '',
    ...runHeading(run.date, run.machine, settings.quick, 'npm run bench'),
    '',
    ...renderFlowTables(run),
    '',
    `Ledger after the run: \`GET /v1/ledger/verify\` ${run.ledger.ok ? 'ok' : 'FAILED'}; ${run.ledger.note}.`,
    '',
    ...(run.soak ? [...renderSoakTable(run.soak), ''] : []),
    `Most called statements in the saturated uniform phase, calls per payment (of ${run.uniform.payments.toLocaleString('en-US')} payments):`,
    '',
    '| calls | statement |',
    '|---:|---|',
    ...run.uniform.top_statements.map((statement) => `| ${statement.calls.toFixed(2)} | \`${statement.query.replace(/\|/g, '\\|').replace(/`/g, "'")}\` |`),
    '',
    ...machineTable(run.machine),
    '',
    '| settings | |',
    '|---|---|',
    `| each phase | ${settings.warmup_s} s warm-up, then ${settings.duration_s} s measured |`,
    `| pgbench | \`-b tpcb-like -c ${settings.pgbench_clients} -j ${settings.pgbench_threads} -T ${settings.duration_s} -n -P 5\` on a database made with \`-i -s ${settings.pgbench_scale} -q\` |`,
    `| actors | ${settings.merchants} merchants (each with a webhook endpoint and a WebSocket stream held by the bench), ${settings.holders} funded holders; amounts 1..${settings.amount_max} minor units |`,
    ...[...phaseList(run), ...(run.soak ? [run.soak] : [])].map((phase) => `| ${phase.name} | ${phase.shape} |`),
  ].join('\n');
}

/** The part of docs/BENCHMARKS.md a run adds when the end-to-end section is missing; kept as it is afterwards. */
export const payments_intro = `## End to end: \`npm run bench\`

\`npm run bench\` builds, starts the platform from \`dist/\` (the four services on free ports, a throwaway PostgreSQL started with \`pg_stat_statements\`, a throwaway nats-server with its monitoring port) and measures in one run on that PostgreSQL:

1. **pgbench tpcb-like** (8 clients, scale 10), what the server does without our code;
2. **saturated, uniform**: N clients (16 by default) in a closed loop, each making a payment exactly as a merchant and a holder make it (the merchant's signed \`POST /v1/payment-intents\` with an \`Idempotency-Key\`, then the holder's \`POST /v1/payment-intents/{id}/pay\` with one), spread evenly over the merchants;
3. **saturated, hot**: the same, half of the payments to one merchant;
4. **half load**: an open loop at half of phase 2's rate, latency counted from when each payment was due;
5. **one client**: one client in a closed loop.

Per phase: payments/s and the ratio to pgbench; create+pay p50/p99/p99.9; how long after its commit the merchant's WebSocket frame and its webhook arrive (\`payment_intent.succeeded\`, timed from PostgreSQL's commit timestamp of the pay's transaction, \`track_commit_timestamp\`, to the moment the bench's listener reads it; without commit timestamps, from the pay's answer, a lower bound marked \`>=\`); and per payment: SQL statements (\`pg_stat_statements\`), transactions and rows written (\`pg_stat_database\`), NATS messages (nats-server's \`/varz\`), CPU milliseconds of each service (\`process_cpu_seconds_total\` from its \`/metrics\`), of PostgreSQL, nats-server and the bench itself, and each service's largest RSS. The run fails (exit 1, this file not rewritten) if a payment failed or \`GET /v1/ledger/verify\` finds a problem.

Flags after \`--\`: \`--duration <s>\` (30), \`--concurrency <n>\` (16), \`--merchants <n>\` (20), \`--holders <n>\` (200), \`--soak <s>\` (then a saturated phase this long with each service's RSS sampled every 5 s: \`--soak 600\` is the issue's 10-minute run), \`--quick\` (a smoke run). \`BENCH_ACCOUNTS_URL\`, \`BENCH_MERCHANTS_URL\`, \`BENCH_PAYMENTS_URL\`, \`BENCH_PUSH_URL\` and \`ADMIN_TOKEN\` measure a platform already running instead (with \`DATABASE_URL\` for its database's counters).
`;
