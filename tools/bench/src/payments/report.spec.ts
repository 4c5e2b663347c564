import type { LoadResult } from '../load.js';
import { replaceResults } from '../report.js';
import type { DeliverySummary } from './delivery.js';
import { payments_results_begin, payments_results_end, renderFlowResults, renderFlowTables, service_keys, type FlowPhase, type FlowRun } from './report.js';

function load(per_s: number, p50_ms: number, p99_ms: number, failed = 0): LoadResult {
  const tally = { ok: per_s * 30, failed, maybe_applied: 0, error_kinds: {} };
  return { name: 'x', duration_s: 30, concurrency: 16, measured: tally, total: tally, transfers_per_s: per_s, latency: { count: tally.ok, p50_ms, p99_ms, p999_ms: p99_ms * 2, mean_ms: p50_ms, max_ms: p99_ms * 3 } };
}

const from_commit = { count: 10, p50_ms: 5, p99_ms: 11, p999_ms: 11, mean_ms: 6, max_ms: 11 };
const heard: DeliverySummary = { count: 10, p50_ms: 3, p99_ms: 9, p999_ms: 9, mean_ms: 4, max_ms: 9, from_commit, answered: 10, early: 0, missing: 0 };

function phase(name: string, per_s: number, p50_ms: number, p99_ms: number, overrides: Partial<FlowPhase> = {}): FlowPhase {
  const cpu = Object.fromEntries(service_keys.map((service) => [service, 2.5])) as Record<(typeof service_keys)[number], number>;
  return {
    name,
    shape: `${name} shape`,
    load: load(per_s, p50_ms, p99_ms),
    payments: per_s * 30,
    per_payment: { statements: 18, transactions: 4.5, tuples_written: 12, nats_msgs: 20, cpu_ms: { ...cpu, postgres: 3, nats: 1, bench: 0.5 } },
    rss_mb_max: { accounts: 120, merchants: 110, payments: 140, push: 130 },
    stream: heard,
    webhook: { ...heard, missing: 2 },
    top_statements: [{ query: 'SELECT a | b FROM `t`', calls: 1 }],
    ...overrides,
  };
}

function flowRun(overrides: Partial<FlowRun> = {}): FlowRun {
  return {
    date: new Date('2026-01-02T03:04:05Z'),
    machine: { cpus: 2, memory_gib: 8, cpu_model: 'AMD EPYC', load_average: '1.00, 1.00, 1.00', node: 'v20', postgres: '18.1', pgbench: '15', nats: 'throwaway nats-server', commit: 'abc1234' },
    settings: { duration_s: 30, warmup_s: 5, concurrency: 16, merchants: 20, holders: 200, soak_s: 0, quick: false, help: false, pgbench_clients: 8, pgbench_threads: 2, pgbench_scale: 10, amount_max: 1000 },
    pgbench: { tps: 2000, transactions: 60000, failed: 0, latency_average_ms: 4 },
    uniform: phase('saturated, uniform', 600, 20, 40),
    hot: phase('saturated, hot merchant', 570, 21, 42),
    half: phase('half load', 300, 8, 20),
    single: phase('one client', 80, 12, 14),
    ledger: { ok: true, note: '1000 entries checked' },
    ...overrides,
  };
}

describe('the end-to-end report', () => {
  it('shows each phase with its rate, ratio to pgbench and latencies', () => {
    const tables = renderFlowTables(flowRun()).join('\n');
    expect(tables).toContain('| saturated, uniform | 600 | 0.300 | 20.0 ms | 40.0 ms | 80.0 ms | 0 | 5.00 ms / 11.0 ms | 5.00 ms / 11.0 ms (2 not heard) |');
    expect(tables).toContain('| pgbench tpcb-like (8 clients, scale 10) | 2,000 tps | 1.00 |');
    expect(tables).toContain('| SQL statements (pg_stat_statements, without BEGIN/COMMIT) | 18.0 | 18.0 | 18.0 | 18.0 |');
    expect(tables).toContain('| RSS max, payments (MB) | 140 | 140 | 140 | 140 |');
  });

  it('marks each target met or not against the issue bounds', () => {
    const met = renderFlowTables(flowRun()).join('\n');
    expect(met).toContain('| saturated uniform / pgbench tpcb-like | 0.300 | >= 0.25 | met |');
    expect(met).toContain('| hot merchant / uniform | 0.95 | >= 0.9 | met |');
    expect(met).toContain('| create+pay p99 at half load (ms) | 20.0 | <= 25 | met |');
    expect(met).toContain('| one client create+pay p50 (ms) | 12.0 | <= 15 | met |');
    expect(met).toContain('| commit to WebSocket frame p99 at half load (ms) | 11.0 | <= 50 | met |');
    const slow = flowRun({ single: phase('one client', 20, 48, 90), uniform: phase('saturated, uniform', 44, 320, 650, { per_payment: { statements: 48, transactions: 9, tuples_written: 30, nats_msgs: undefined, cpu_ms: { accounts: undefined, merchants: undefined, payments: undefined, push: undefined, postgres: undefined, nats: undefined, bench: undefined } } }) });
    const not_met = renderFlowTables(slow).join('\n');
    expect(not_met).toContain('| saturated uniform / pgbench tpcb-like | 0.022 | >= 0.25 | not met |');
    expect(not_met).toContain('| one client create+pay p50 (ms) | 48.0 | <= 15 | not met |');
    expect(not_met).toContain('| transactions per payment (saturated uniform) | 9.0 | <= 5 | not met |');
    expect(not_met).toContain('| NATS messages in + out (/varz) | n/a |');
  });

  it('falls back to a lower bound from the pay answer when commit times could not be read', () => {
    const bounded = { ...heard, from_commit: undefined };
    const tables = renderFlowTables(flowRun({ half: phase('half load', 300, 8, 20, { stream: bounded, webhook: bounded }) })).join('\n');
    expect(tables).toContain('| half load | 300 | 0.150 | 8.00 ms | 20.0 ms | 40.0 ms | 0 | >= 3.00 ms / >= 9.00 ms (from the answer) |');
    expect(tables).toContain('| commit to WebSocket frame p99 at half load (ms) | 9.0 | <= 50 | met |');
  });

  it('says a --quick run is a smoke run, and keeps statements readable inside a table', () => {
    const quick = renderFlowResults(flowRun({ settings: { ...flowRun().settings, quick: true } }));
    expect(quick).toContain('A `--quick` smoke run');
    expect(quick).toContain("| 1.00 | `SELECT a \\| b FROM 't'` |");
    expect(renderFlowResults(flowRun())).not.toContain('smoke run');
  });

  it('shows memory through a soak minute by minute, and whether it stayed flat and under the bound', () => {
    const rss = (at_s: number, push: number) => ({ at_s, mb: { accounts: 120, merchants: 110, payments: 130, push } });
    const timeline = [rss(5, 120), rss(30, 125), rss(60, 130), rss(65, 131), rss(120, 133), rss(180, 135)];
    const flat = phase('soak', 500, 20, 40, { rss_timeline: timeline, rss_mb_max: { accounts: 120, merchants: 110, payments: 130, push: 135 }, load: { ...load(500, 20, 40), duration_s: 180 } });
    const results = renderFlowResults(flowRun({ soak: flat }));
    expect(results).toContain('| service | 5 s | 60 s | 120 s | 180 s | largest |');
    expect(results).toContain('| push | 120 | 130 | 133 | 135 | 135 |');
    expect(results).toContain('| largest service RSS over the 180 s soak (MB) | 135 | <= 150 | met |');
    // push grew 130 -> 135 after the first minute: 3.8 %
    expect(results).toContain("| largest RSS growth from the soak's first minute to its end (share) | 0.038 | <= 0.1 | met |");
    expect(results).toContain('| soak | soak shape |');
    const leaking = phase('soak', 500, 20, 40, { rss_timeline: [rss(5, 120), rss(60, 130), rss(600, 160)], rss_mb_max: { accounts: 120, merchants: 110, payments: 130, push: 160 } });
    const grown = renderFlowTables(flowRun({ soak: leaking })).join('\n');
    expect(grown).toContain("| largest RSS growth from the soak's first minute to its end (share) | 0.231 | <= 0.1 | not met |");
    expect(grown).toContain('| largest service RSS over the 30 s soak (MB) | 160 | <= 150 | not met |');
    expect(renderFlowTables(flowRun()).join('\n')).not.toContain('soak');
  });

  it('replaces only its own section of docs/BENCHMARKS.md', () => {
    const markers = { begin: payments_results_begin, end: payments_results_end };
    const file = `# Benchmarks\n\nledger part\n\n${payments_results_begin}\n\nold\n\n${payments_results_end}\n\n## Notes\n`;
    const next = replaceResults(file, 'unused intro', 'NEW', markers);
    expect(next).toBe(`# Benchmarks\n\nledger part\n\n${payments_results_begin}\n\nNEW\n\n${payments_results_end}\n## Notes\n`);
  });
});
