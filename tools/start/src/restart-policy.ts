/**
 * When a crashed service is started again, and when we stop trying: the
 * schedule of a process manager (systemd's Restart=, Kubernetes'
 * CrashLoopBackOff). The delay doubles with each crash still inside the
 * window, up to a cap; a service that crashes `crashes_max` times within the
 * window is broken, not unlucky, and `npm start` stops with its logs rather
 * than restart it forever. Crashes older than the window are forgotten, so a
 * service that crashes now and then is always restarted, starting again from
 * the shortest delay.
 */
export interface RestartPolicy {
  delay_initial_ms: number;
  delay_max_ms: number;
  crashes_max: number;
  crash_window_ms: number;
  /** How long a restarted service may take to answer /health/ready before we say so. */
  ready_timeout_ms: number;
}

export const restart_policy: RestartPolicy = {
  delay_initial_ms: 1_000,
  delay_max_ms: 30_000,
  // A service crashing at every start gives up after 1 + 2 + 4 + 8 s of delays plus its boots.
  crashes_max: 5,
  crash_window_ms: 120_000,
  ready_timeout_ms: 180_000,
};

export type RestartDecision =
  | { kind: 'restart'; delay_ms: number; crashes_ms: number[] }
  | { kind: 'give_up'; crashes_ms: number[] };

/** The decision after a crash at `now_ms`, given the earlier crash times (pure). */
export function afterCrash(earlier_crashes_ms: readonly number[], now_ms: number, policy: RestartPolicy): RestartDecision {
  const crashes_ms = [...earlier_crashes_ms.filter((at_ms) => now_ms - at_ms < policy.crash_window_ms), now_ms];
  if (crashes_ms.length >= policy.crashes_max) return { kind: 'give_up', crashes_ms };
  return { kind: 'restart', delay_ms: restartDelay(crashes_ms.length, policy), crashes_ms };
}

/** initial, 2 × initial, 4 × initial ... for the 1st, 2nd, 3rd recent crash, never above the cap. */
export function restartDelay(recent_crashes: number, policy: RestartPolicy): number {
  const doublings = Math.max(0, recent_crashes - 1);
  // 2^31 ms is past any cap: keeps the power finite.
  return Math.min(policy.delay_initial_ms * 2 ** Math.min(doublings, 31), policy.delay_max_ms);
}
