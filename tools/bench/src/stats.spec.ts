import { LatencyRecorder, percentile } from './stats.js';

const one_to_hundred = Array.from({ length: 100 }, (_, index) => index + 1);

describe('percentile', () => {
  it('is the nearest rank: the smallest value with at least that share of values at or below it', () => {
    expect(percentile(one_to_hundred, 0.5)).toBe(50);
    expect(percentile(one_to_hundred, 0.99)).toBe(99);
    expect(percentile(one_to_hundred, 0.991)).toBe(100);
    expect(percentile(one_to_hundred, 1)).toBe(100);
    expect(percentile(one_to_hundred, 0.001)).toBe(1);
  });

  it('of a single value is that value, for every fraction', () => {
    expect(percentile([7.5], 0.5)).toBe(7.5);
    expect(percentile([7.5], 0.99)).toBe(7.5);
  });

  it('of an odd or small count rounds the rank up, never interpolates', () => {
    expect(percentile([1, 2, 3], 0.5)).toBe(2);
    expect(percentile([1, 2], 0.5)).toBe(1);
    expect(percentile([1, 2], 0.99)).toBe(2);
    expect(percentile(Float64Array.from([10, 20, 30, 40]), 0.75)).toBe(30);
  });

  it('refuses no values and fractions outside (0, 1]', () => {
    expect(() => percentile([], 0.5)).toThrow(RangeError);
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 1.01)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('LatencyRecorder', () => {
  it('summarises what it recorded: count, p50, p99, p99.9, mean and max', () => {
    const recorder = new LatencyRecorder(1_000);
    for (const value of [...one_to_hundred].reverse()) recorder.record(value);
    expect(recorder.summary()).toEqual({ count: 100, p50_ms: 50, p99_ms: 99, p999_ms: 100, mean_ms: 50.5, max_ms: 100 });
  });

  it('says nothing rather than zero when nothing was recorded', () => {
    expect(new LatencyRecorder(10).summary()).toEqual({ count: 0, p50_ms: undefined, p99_ms: undefined, p999_ms: undefined, mean_ms: undefined, max_ms: undefined });
  });

  it('keeps memory bounded past its capacity, with count, mean and max still exact', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16_807) % 2_147_483_647) - 1) / 2_147_483_646;
    const recorder = new LatencyRecorder(100, random);
    for (let value = 1; value <= 10_000; value++) recorder.record(value);
    const summary = recorder.summary();
    expect(summary.count).toBe(10_000);
    expect(summary.mean_ms).toBe(5_000.5);
    expect(summary.max_ms).toBe(10_000);
    // A uniform sample of 1..10000: its median is near the middle.
    expect(summary.p50_ms).toBeGreaterThan(3_000);
    expect(summary.p50_ms).toBeLessThan(7_000);
  });

  it('at exactly its capacity keeps every value', () => {
    const recorder = new LatencyRecorder(3, () => 0);
    for (const value of [3, 1, 2]) recorder.record(value);
    expect(recorder.summary()).toMatchObject({ count: 3, p50_ms: 2, p99_ms: 3 });
  });

  it('refuses negative, infinite and missing latencies, and a zero capacity', () => {
    const recorder = new LatencyRecorder(10);
    expect(() => recorder.record(-1)).toThrow(RangeError);
    expect(() => recorder.record(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => recorder.record(Number.NaN)).toThrow(RangeError);
    expect(recorder.count).toBe(0);
    recorder.record(0);
    expect(recorder.count).toBe(1);
    expect(() => new LatencyRecorder(0)).toThrow(RangeError);
  });
});
