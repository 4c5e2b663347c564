/**
 * Latency statistics of one phase. Samples are kept in a fixed-size buffer;
 * past its capacity a uniform random sample of all latencies is kept
 * (reservoir sampling), so memory stays bounded however long a phase runs
 * and the percentiles stay unbiased.
 */

/** 4 M samples (32 MiB): a 30 s phase at 100k transfers/s still fits exactly. */
export const latency_samples_max = 4_000_000;

export interface LatencySummary {
  /** Every latency recorded (not only the kept samples). */
  count: number;
  p50_ms: number | undefined;
  p99_ms: number | undefined;
  p999_ms: number | undefined;
  mean_ms: number | undefined;
  max_ms: number | undefined;
}

/**
 * The nearest-rank percentile of ascending `sorted` values: the smallest
 * value with at least `fraction` of all values at or below it.
 */
export function percentile(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no values');
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`percentile fraction must be in (0, 1], got ${fraction}`);
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export class LatencyRecorder {
  private readonly samples: Float64Array;
  private kept = 0;
  private seen = 0;
  private sum_ms = 0;
  private max_ms = 0;

  constructor(
    readonly capacity: number = latency_samples_max,
    private readonly random: () => number = Math.random,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.samples = new Float64Array(capacity);
  }

  get count(): number {
    return this.seen;
  }

  record(latency_ms: number): void {
    if (!(latency_ms >= 0) || !Number.isFinite(latency_ms)) throw new RangeError(`latency must be a finite non-negative number, got ${latency_ms}`);
    this.seen += 1;
    this.sum_ms += latency_ms;
    if (latency_ms > this.max_ms) this.max_ms = latency_ms;
    if (this.kept < this.capacity) {
      this.samples[this.kept++] = latency_ms;
      return;
    }
    // Algorithm R: the n-th value replaces a kept one with probability capacity / n.
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.capacity) this.samples[slot] = latency_ms;
  }

  summary(): LatencySummary {
    if (this.seen === 0) return { count: 0, p50_ms: undefined, p99_ms: undefined, p999_ms: undefined, mean_ms: undefined, max_ms: undefined };
    const sorted = this.samples.slice(0, this.kept).sort();
    return {
      count: this.seen,
      p50_ms: percentile(sorted, 0.5),
      p99_ms: percentile(sorted, 0.99),
      p999_ms: percentile(sorted, 0.999),
      mean_ms: this.sum_ms / this.seen,
      max_ms: this.max_ms,
    };
  }
}
