import { afterCrash, restart_policy, restartDelay, type RestartPolicy } from './restart-policy.js';

const policy: RestartPolicy = { ...restart_policy, delay_initial_ms: 1_000, delay_max_ms: 30_000, crashes_max: 5, crash_window_ms: 120_000 };

describe('restart policy of npm start', () => {
  it('doubles the delay with each recent crash, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((crashes) => restartDelay(crashes, policy))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(restartDelay(10_000, policy)).toBe(30_000);
  });

  it('gives up at the crashes_max-th crash within the window, and not one before', () => {
    let crashes_ms: number[] = [];
    const kinds: string[] = [];
    for (let n = 0; n < policy.crashes_max; n++) {
      const decision = afterCrash(crashes_ms, 10_000 + n * 1_000, policy);
      crashes_ms = decision.crashes_ms;
      kinds.push(decision.kind);
    }
    expect(kinds).toEqual(['restart', 'restart', 'restart', 'restart', 'give_up']);
  });

  it('forgets crashes older than the window: a service that crashes now and then is always restarted, from the shortest delay', () => {
    let crashes_ms: number[] = [];
    for (let n = 0; n < 50; n++) {
      const decision = afterCrash(crashes_ms, n * policy.crash_window_ms, policy);
      expect(decision).toEqual({ kind: 'restart', delay_ms: policy.delay_initial_ms, crashes_ms: [n * policy.crash_window_ms] });
      crashes_ms = decision.crashes_ms;
    }
  });

  it('counts a crash just inside the window', () => {
    const decision = afterCrash([0], policy.crash_window_ms - 1, policy);
    expect(decision).toEqual({ kind: 'restart', delay_ms: 2_000, crashes_ms: [0, policy.crash_window_ms - 1] });
  });
});
