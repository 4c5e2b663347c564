import { cpuLine, median, renderFlood, roundRatios, summarise, type Phase, type Round } from './flood-report.js';

function phase(p99_ms: number, options: { sustained_p99_ms?: number; flood?: Record<string, number>; payments_cpu_s?: number } = {}): Phase {
  const summary = (p99: number) => ({ count: 400, p50_ms: 8, p99_ms: p99, p999_ms: p99, mean_ms: 9, max_ms: p99 });
  return {
    latency: summary(p99_ms),
    sustained: summary(options.sustained_p99_ms ?? p99_ms),
    steady_failures: {},
    flood: options.flood ?? {},
    flood_per_s: Object.values(options.flood ?? {}).reduce((sum, count) => sum + count, 0) / 20,
    cpu_s: { payments: options.payments_cpu_s ?? 2, merchants: 1, bench: 0.5 },
    wall_s: 20,
  };
}

function round(alone_ms: number, at_budget_ms: number, over_budget_ms: number): Round {
  return { alone: phase(alone_ms), at_budget: phase(at_budget_ms, { flood: { 200: 2_000 } }), over_budget: phase(over_budget_ms, { flood: { 200: 1_200, 429: 400 } }) };
}

describe('median', () => {
  it('is the middle value of an odd count, the mean of the middle two of an even one, and none of nothing', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});

describe('roundRatios', () => {
  it("compares each flood with its own round's alone phase", () => {
    expect(roundRatios(round(10, 15, 30))).toEqual({ at_budget: 1.5, over_budget: 3 });
  });
});

describe('summarise', () => {
  it('is met when the median round of both floods is within 2x, and reports the worst round beside it', () => {
    const summary = summarise([round(10, 12, 15), round(20, 90, 30), round(10, 15, 18)]);
    expect(summary.met).toBe(true);
    expect(summary.at_budget.median).toBe(1.5);
    expect(summary.at_budget.worst).toBe(4.5);
    expect(summary.over_budget.median).toBe(1.5);
  });

  it('is not met when either flood’s median round is over 2x', () => {
    expect(summarise([round(10, 12, 25), round(10, 12, 21), round(10, 12, 15)]).met).toBe(false);
    expect(summarise([round(10, 25, 12), round(10, 21, 12), round(10, 15, 12)]).met).toBe(false);
  });

  it('is not met with nothing measured', () => {
    expect(summarise([]).met).toBe(false);
  });

  it('gives the median from the second second apart, the onset left out', () => {
    const onset = { alone: phase(10), at_budget: phase(40, { sustained_p99_ms: 12 }), over_budget: phase(40, { sustained_p99_ms: 14 }) };
    const summary = summarise([onset]);
    expect(summary.met).toBe(false);
    expect(summary.at_budget.sustained_median).toBeCloseTo(1.2);
    expect(summary.over_budget.sustained_median).toBeCloseTo(1.4);
  });
});

describe('cpuLine', () => {
  it("gives payments' CPU per flood request as what the flooded phase used beyond the alone phase's rate", () => {
    const alone = phase(10, { payments_cpu_s: 2 });
    const flooded = phase(12, { flood: { 200: 1_000 }, payments_cpu_s: 4 });
    // (4 s - 2 s) over 1,000 requests: 2 ms each.
    expect(cpuLine({ alone, at_budget: flooded, over_budget: flooded })).toContain('payments per flood request 2000 us at budget, 2000 us over budget');
  });
});

describe('renderFlood', () => {
  it('writes every phase of every round with its ratio and the verdict', () => {
    const text = renderFlood({
      date: new Date('2026-12-02T09:00:00Z'),
      duration_s: 20,
      steady_per_second: 20,
      flood_per_second: 1_000,
      load_before: '0.1, 0.1, 0.1',
      load_after: '1.0, 0.5, 0.2',
      rounds: [round(10, 12, 30), round(10, 11, 15)],
    });
    expect(text).toContain('2026-12-02 09:00 UTC');
    expect(text.split('\n').filter((line) => /^\| [12] \| /.test(line))).toHaveLength(6);
    expect(text).toContain('| 1 | flood over budget | 400 |');
    expect(text).toContain('| 3.00 |');
    expect(text).toContain('not met');
    expect(text).toContain('Over budget: median 2.25, worst 3.00');
  });
});
