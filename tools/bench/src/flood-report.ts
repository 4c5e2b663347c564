/**
 * Pure parts of `npm run bench:flood`: a round's p99 ratios, the verdict over
 * the rounds and the results block of docs/BENCHMARKS.md.
 */
import { processorCount } from './machine.js';
import { formatMs, formatRate } from './report.js';
import type { LatencySummary } from './stats.js';

/** The flooding merchant's requests in flight at once, at most. */
export const flood_concurrency = 32;
/**
 * The at-budget flood's requests a second: API.md's default budget per
 * principal (`RATE_LIMIT_PER_SECOND`, 100), which the bench's services run
 * with. Every request is inside the budget and served: the flood that costs
 * the services most without a single refusal.
 */
export const flood_at_budget_per_second = 100;
/** Target of issue 15.3. */
export const p99_ratio_max = 2;

export interface Phase {
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

/** One round: the steady merchant alone, then under a flood at the flooder's budget, then under one over it. */
export interface Round {
  alone: Phase;
  at_budget: Phase;
  over_budget: Phase;
}

/** Pure: how the flood is sent, in words. */
export function floodPace(per_second: number): string {
  const paced = per_second === 0 ? 'each request sent again as soon as it is answered' : `${per_second} requests a second`;
  return `${paced}, at most ${flood_concurrency} in flight, Retry-After ignored`;
}

/** Pure: a phase's CPU ms a second of one process. */
function cpuPerSecond(phase: Phase, name: keyof Phase['cpu_s']): string {
  const spent = phase.cpu_s[name];
  return spent === undefined ? 'n/a' : `${Math.round((spent * 1_000) / phase.wall_s)} ms/s`;
}

/**
 * Pure: payments' CPU per flood request (what a flooded phase used beyond
 * the alone phase's rate, over the flood's answers, 200 and 429 alike).
 */
function paymentsPerFloodRequest(alone: Phase, flooded: Phase): string {
  const flood_answers = Object.values(flooded.flood).reduce((sum, count) => sum + count, 0);
  const [alone_s, flooded_s] = [alone.cpu_s.payments, flooded.cpu_s.payments];
  if (alone_s === undefined || flooded_s === undefined || flood_answers === 0) return 'n/a';
  return `${Math.round(((flooded_s - (alone_s * flooded.wall_s) / alone.wall_s) * 1e6) / flood_answers)} us`;
}

/**
 * Pure: what the floods cost, as counts that a loaded machine does not bend
 * much: CPU ms a second of each process in each phase of a round, and
 * payments' CPU per flood request.
 */
export function cpuLine(round: Round): string {
  const phases = (name: keyof Phase['cpu_s']) =>
    `${name === 'bench' ? 'load generator' : name} ${cpuPerSecond(round.alone, name)} alone, ${cpuPerSecond(round.at_budget, name)} at budget, ${cpuPerSecond(round.over_budget, name)} over budget`;
  return `${phases('payments')}; ${phases('merchants')}; ${phases('bench')}; payments per flood request ${paymentsPerFloodRequest(round.alone, round.at_budget)} at budget, ${paymentsPerFloodRequest(round.alone, round.over_budget)} over budget`;
}

/** Pure: the p99 of `flooded` over that of `alone`, whole phase and from the second second; undefined when either has none. */
function p99Ratio(alone: Phase, flooded: Phase, part: 'latency' | 'sustained'): number | undefined {
  const [before, after] = [alone[part].p99_ms, flooded[part].p99_ms];
  return before && after ? after / before : undefined;
}

/** Pure: a round's p99 ratios, each flood against the round's own alone phase. */
export function roundRatios(round: Round): { at_budget: number | undefined; over_budget: number | undefined } {
  return { at_budget: p99Ratio(round.alone, round.at_budget, 'latency'), over_budget: p99Ratio(round.alone, round.over_budget, 'latency') };
}

/** Pure: the median of `values` (the mean of the middle two of an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

interface RatioSummary {
  /** The median round's p99 ratio, whole phase. */
  median: number | undefined;
  /** The worst round's. */
  worst: number | undefined;
  /** The median round's, from the second second of each phase (the flood's onset left out). */
  sustained_median: number | undefined;
}

/**
 * Pure: each flood's p99 ratios over the rounds, and the verdict: met when
 * the median round of both floods is within the target. The median, not the
 * worst: a p99 of 400 reads is the 4th slowest, and one stall of the shared
 * machine moves it; the worst round is reported beside it.
 */
export function summarise(rounds: readonly Round[]): { at_budget: RatioSummary; over_budget: RatioSummary; met: boolean } {
  const of = (flood: 'at_budget' | 'over_budget'): RatioSummary => {
    const whole = rounds.map((round) => p99Ratio(round.alone, round[flood], 'latency')).filter((ratio): ratio is number => ratio !== undefined);
    const sustained = rounds.map((round) => p99Ratio(round.alone, round[flood], 'sustained')).filter((ratio): ratio is number => ratio !== undefined);
    return { median: median(whole), worst: whole.length === 0 ? undefined : Math.max(...whole), sustained_median: median(sustained) };
  };
  const [at_budget, over_budget] = [of('at_budget'), of('over_budget')];
  const within = (ratio: number | undefined) => ratio !== undefined && ratio <= p99_ratio_max;
  return { at_budget, over_budget, met: within(at_budget.median) && within(over_budget.median) };
}

export function formatRatio(ratio: number | undefined): string {
  return ratio === undefined ? 'n/a' : ratio.toFixed(2);
}

interface FloodRun {
  date: Date;
  duration_s: number;
  steady_per_second: number;
  flood_per_second: number;
  load_before: string;
  load_after: string;
  rounds: readonly Round[];
}

/** Pure: the results block of docs/BENCHMARKS.md. */
export function renderFlood(run: FloodRun): string {
  const failures = (phase: Phase) => (Object.keys(phase.steady_failures).length === 0 ? 'none' : JSON.stringify(phase.steady_failures));
  const flood = (phase: Phase) =>
    Object.keys(phase.flood).length === 0 ? '-' : `${formatRate(phase.flood_per_s)}/s (${Object.entries(phase.flood).map(([status, count]) => `${count} x ${status}`).join(', ')})`;
  const row = (round: number, name: string, phase: Phase, ratio: number | undefined) =>
    `| ${round} | ${name} | ${phase.latency.count} | ${formatMs(phase.latency.p50_ms)} | ${formatMs(phase.latency.p99_ms)} | ${formatMs(phase.sustained.p99_ms)} | ${ratio === undefined ? '-' : formatRatio(ratio)} | ${failures(phase)} | ${flood(phase)} |`;
  const rows = run.rounds.flatMap((round, index) => {
    const ratio = roundRatios(round);
    return [row(index + 1, 'alone', round.alone, undefined), row(index + 1, 'flood at budget', round.at_budget, ratio.at_budget), row(index + 1, 'flood over budget', round.over_budget, ratio.over_budget)];
  });
  const summary = summarise(run.rounds);
  const verdict = (name: string, ratios: RatioSummary) =>
    `${name}: median ${formatRatio(ratios.median)}, worst ${formatRatio(ratios.worst)}; from the second second of each phase (the flood's onset left out), median ${formatRatio(ratios.sustained_median)}`;
  const last = run.rounds[run.rounds.length - 1];
  return [
    '### Results of the last run',
    '',
    `${run.date.toISOString().slice(0, 16).replace('T', ' ')} UTC; ${processorCount()} CPUs, load average (1, 5, 15 min) ${run.load_before} at the start and ${run.load_after} at the end (a shared machine: others' work is in these figures); ${run.rounds.length} round(s) of ${run.duration_s} s phases, the steady merchant at ${run.steady_per_second} reads/s; the flood at budget ${floodPace(flood_at_budget_per_second)}; over budget ${floodPace(run.flood_per_second)}.`,
    '',
    '| round | phase | steady reads | p50 | p99 | p99 from the second second | p99 / alone | steady reads not 200 | flood (answers) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `p99 flooded / alone (target <= ${p99_ratio_max} in the median round: ${summary.met ? 'met' : 'not met'}). ${verdict('At budget', summary.at_budget)}. ${verdict('Over budget', summary.over_budget)}.`,
    '',
    ...(last === undefined ? [] : [`CPU, the last round: ${cpuLine(last)}.`]),
  ].join('\n');
}

