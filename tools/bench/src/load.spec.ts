import { runLoad, type Outcome } from './load.js';

describe('runLoad', () => {
  it('keeps the given number of commands in flight and tallies successes and failures by kind', async () => {
    let in_flight = 0;
    let in_flight_max = 0;
    const send = async (sequence: number): Promise<Outcome> => {
      in_flight += 1;
      in_flight_max = Math.max(in_flight_max, in_flight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      in_flight -= 1;
      return sequence % 3 === 0 ? { ok: false, kind: '402 insufficient_funds', applied: 'no' } : { ok: true };
    };
    const lines: string[] = [];
    const result = await runLoad({
      name: 'test',
      warmup_ms: 20,
      duration_ms: 150,
      concurrency: 4,
      send,
      signal: new AbortController().signal,
      progress_interval_ms: 50,
      onProgress: (line) => lines.push(line),
    });
    expect(in_flight_max).toBe(4);
    expect(result.total.ok + result.total.failed).toBeGreaterThanOrEqual(result.measured.ok + result.measured.failed);
    expect(result.measured.ok).toBeGreaterThan(0);
    expect(result.total.error_kinds).toEqual({ '402 insufficient_funds': result.total.failed });
    expect(result.total.maybe_applied).toBe(0);
    expect(result.latency.count).toBe(result.measured.ok);
    expect(result.transfers_per_s).toBe(result.measured.ok / 0.15);
    expect(lines.every((line) => line.startsWith('  test: '))).toBe(true);
  });

  it('stops when aborted, saying so', async () => {
    const controller = new AbortController();
    const send = async (): Promise<Outcome> => {
      controller.abort();
      return { ok: true };
    };
    const phase = { name: 'test', warmup_ms: 0, duration_ms: 60_000, concurrency: 2, send, signal: controller.signal, progress_interval_ms: 1_000, onProgress: () => undefined };
    await expect(runLoad(phase)).rejects.toThrow('test: stopped');
  });

  it('in an open loop starts commands at the given rate, measuring latency from when each was due', async () => {
    const started: number[] = [];
    const send = async (): Promise<Outcome> => {
      started.push(performance.now());
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { ok: true };
    };
    const result = await runLoad({
      name: 'paced',
      warmup_ms: 0,
      duration_ms: 500,
      concurrency: 8,
      rate_per_s: 40,
      unit: 'payments',
      send,
      signal: new AbortController().signal,
      progress_interval_ms: 1_000,
      onProgress: () => undefined,
    });
    // 40/s for 0.5 s: at most 20 slots (fewer only if this process stalls), where a closed loop would start ~130 (8 x 500/30).
    expect(started.length).toBeGreaterThan(0);
    expect(started.length).toBeLessThanOrEqual(20);
    expect(result.latency.p50_ms).toBeGreaterThanOrEqual(29);
  });
});
