import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyRecorder, type LatencySummary } from './stats.js';

/**
 * One command's end. A failure says whether the command may still have
 * been applied (`maybe`: no answer, or an answer that makes no sense), so
 * the run can check the ledger holds exactly what was acknowledged.
 */
export type Outcome = { ok: true } | { ok: false; kind: string; applied: 'no' | 'maybe' };

export interface LoadPhase {
  name: string;
  warmup_ms: number;
  duration_ms: number;
  /** Commands in flight: each of this many workers sends, awaits the answer, sends the next. */
  concurrency: number;
  /**
   * An open loop instead: commands start at this rate (at most `concurrency`
   * in flight), and latency counts from when each was due, so a command
   * delayed by a slow one before it is not measured as fast.
   */
  rate_per_s?: number;
  /** What one command is, in progress lines ("transfers" by default). */
  unit?: string;
  /** Sends command number `sequence` (unique in the phase); must not throw. */
  send: (sequence: number) => Promise<Outcome>;
  signal: AbortSignal;
  progress_interval_ms: number;
  onProgress: (line: string) => void;
}

export interface Tally {
  ok: number;
  failed: number;
  /** Failures that may have been applied anyway. */
  maybe_applied: number;
  /** Failures by kind, at most error_kinds_max kinds (the rest as "other"). */
  error_kinds: Record<string, number>;
}

export interface LoadResult {
  name: string;
  duration_s: number;
  concurrency: number;
  /** Commands that completed inside the measured window. */
  measured: Tally;
  /** Every command of the phase, warm-up and the tail after the window included. */
  total: Tally;
  transfers_per_s: number;
  /** Latency of the successful commands completed in the window. */
  latency: LatencySummary;
}

const error_kinds_max = 16;

/**
 * A closed loop: `concurrency` workers each keep one command in flight
 * during the warm-up and the measured window. What completes in the window
 * is measured; what completes during the warm-up or after the window (the
 * commands still in flight when it closes) only counts in `total`. Bounded:
 * no new command starts after the window, and each send has its own timeout.
 */
export async function runLoad(phase: LoadPhase): Promise<LoadResult> {
  if (!Number.isSafeInteger(phase.concurrency) || phase.concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${phase.concurrency}`);
  const started_ms = performance.now();
  const window = { from_ms: started_ms + phase.warmup_ms, until_ms: started_ms + phase.warmup_ms + phase.duration_ms };
  const measured = emptyTally();
  const total = emptyTally();
  const latency = new LatencyRecorder();
  let sequence = 0;
  const next_due = pacer(phase.rate_per_s, started_ms);
  const worker = async () => {
    while (!phase.signal.aborted && performance.now() < window.until_ms) {
      const due_ms = next_due();
      if (due_ms >= window.until_ms) break;
      const wait_ms = due_ms - performance.now();
      if (wait_ms > 0) await sleep(wait_ms);
      const sent_ms = Math.min(due_ms, performance.now());
      const outcome = await phase.send(sequence++);
      const done_ms = performance.now();
      count(total, outcome);
      if (done_ms < window.from_ms || done_ms >= window.until_ms) continue;
      count(measured, outcome);
      if (outcome.ok) latency.record(done_ms - sent_ms);
    }
  };
  const progress = setInterval(() => phase.onProgress(progressLine(phase, started_ms, measured, total)), phase.progress_interval_ms);
  try {
    await Promise.all(Array.from({ length: phase.concurrency }, worker));
  } finally {
    clearInterval(progress);
  }
  if (phase.signal.aborted) throw new Error(`${phase.name}: stopped`);
  const duration_s = phase.duration_ms / 1000;
  return { name: phase.name, duration_s, concurrency: phase.concurrency, measured, total, transfers_per_s: measured.ok / duration_s, latency: latency.summary() };
}

/** When the next command is due: now in a closed loop, the next slot of the schedule in an open one. */
function pacer(rate_per_s: number | undefined, started_ms: number): () => number {
  if (rate_per_s === undefined) return () => performance.now();
  if (!(rate_per_s > 0) || !Number.isFinite(rate_per_s)) throw new RangeError(`rate must be a positive number, got ${rate_per_s}`);
  const interval_ms = 1000 / rate_per_s;
  let slot = 0;
  return () => started_ms + interval_ms * slot++;
}

function emptyTally(): Tally {
  return { ok: 0, failed: 0, maybe_applied: 0, error_kinds: {} };
}

function count(tally: Tally, outcome: Outcome): void {
  if (outcome.ok) {
    tally.ok += 1;
    return;
  }
  tally.failed += 1;
  if (outcome.applied === 'maybe') tally.maybe_applied += 1;
  const known = outcome.kind in tally.error_kinds || Object.keys(tally.error_kinds).length < error_kinds_max;
  const kind = known ? outcome.kind : 'other';
  tally.error_kinds[kind] = (tally.error_kinds[kind] ?? 0) + 1;
}

function progressLine(phase: LoadPhase, started_ms: number, measured: Tally, total: Tally): string {
  const elapsed_ms = performance.now() - started_ms;
  const stage =
    elapsed_ms < phase.warmup_ms
      ? `warming up ${seconds(elapsed_ms)} of ${seconds(phase.warmup_ms)}`
      : `measuring ${seconds(Math.min(elapsed_ms - phase.warmup_ms, phase.duration_ms))} of ${seconds(phase.duration_ms)}`;
  const measured_s = Math.max(0.001, Math.min(elapsed_ms - phase.warmup_ms, phase.duration_ms) / 1000);
  const rate = elapsed_ms < phase.warmup_ms ? '' : `, ${Math.round(measured.ok / measured_s)}/s`;
  return `  ${phase.name}: ${stage}, ${total.ok} ${phase.unit ?? 'transfers'} so far${rate}, ${total.failed} errors`;
}

function seconds(duration_ms: number): string {
  return `${Math.round(duration_ms / 1000)} s`;
}
