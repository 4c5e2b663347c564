import fc from 'fast-check';
import {
  decideRisk,
  evaluateInternalRules,
  evaluateVerifierOutcome,
  type RiskLimits,
  velocity_window_ms,
  type VelocityWindow,
  type VerifierOutcome,
} from './risk-rules.js';

const no_limits: RiskLimits = { amount_minor_max: null, velocity_count_max: null, velocity_amount_minor_max: null };
const empty_window: VelocityWindow = { count: 0, amount_minor: 0n };
const unavailable: VerifierOutcome = { kind: 'unavailable', cause: 'timeout', detail: 'timed out' };

describe('risk rules', () => {
  it('allows anything when no limit is set', () => {
    expect(evaluateInternalRules(no_limits, 1_000_000_000_000n, { count: 1_000_000, amount_minor: 10n ** 17n })).toEqual({ outcome: 'allowed', failed_open: false });
  });

  it('allows a payment exactly at the per-payment maximum and declines one minor unit over', () => {
    const limits = { ...no_limits, amount_minor_max: 10_000n };
    expect(evaluateInternalRules(limits, 10_000n, empty_window).outcome).toBe('allowed');
    expect(evaluateInternalRules(limits, 10_001n, empty_window)).toMatchObject({ outcome: 'declined', rule: 'max_amount' });
  });

  it('allows the N-th payment in the window and declines the one after', () => {
    const limits = { ...no_limits, velocity_count_max: 5 };
    expect(evaluateInternalRules(limits, 1n, { count: 4, amount_minor: 4n }).outcome).toBe('allowed');
    expect(evaluateInternalRules(limits, 1n, { count: 5, amount_minor: 5n })).toMatchObject({ outcome: 'declined', rule: 'velocity_count' });
  });

  it('allows reaching the amount limit exactly and declines one minor unit over it', () => {
    const limits = { ...no_limits, velocity_amount_minor_max: 30_000n };
    expect(evaluateInternalRules(limits, 10_000n, { count: 2, amount_minor: 20_000n }).outcome).toBe('allowed');
    expect(evaluateInternalRules(limits, 10_001n, { count: 2, amount_minor: 20_000n })).toMatchObject({ outcome: 'declined', rule: 'velocity_amount' });
    expect(evaluateInternalRules(limits, 30_001n, empty_window)).toMatchObject({ rule: 'velocity_amount' });
  });

  it('names the first rule that refuses: maximum, then count, then amount', () => {
    const limits: RiskLimits = { amount_minor_max: 100n, velocity_count_max: 1, velocity_amount_minor_max: 100n };
    const full: VelocityWindow = { count: 1, amount_minor: 100n };
    expect(evaluateInternalRules(limits, 101n, full)).toMatchObject({ rule: 'max_amount' });
    expect(evaluateInternalRules(limits, 100n, full)).toMatchObject({ rule: 'velocity_count' });
    expect(evaluateInternalRules({ ...limits, velocity_count_max: 2 }, 1n, full)).toMatchObject({ rule: 'velocity_amount' });
  });

  it('refuses impossible facts loudly (a bug, not a decline)', () => {
    expect(() => evaluateInternalRules(no_limits, 0n, empty_window)).toThrow();
    expect(() => evaluateInternalRules(no_limits, 1n, { count: -1, amount_minor: 0n })).toThrow();
  });

  it("takes the verifier's decline, and its silence by the fail mode", () => {
    expect(evaluateVerifierOutcome({ kind: 'not_configured' }, 'closed')).toEqual({ outcome: 'allowed', failed_open: false });
    expect(evaluateVerifierOutcome({ kind: 'allow' }, 'closed')).toEqual({ outcome: 'allowed', failed_open: false });
    expect(evaluateVerifierOutcome({ kind: 'decline', reason: 'stolen card' }, 'open')).toMatchObject({ outcome: 'declined', rule: 'external' });
    expect(evaluateVerifierOutcome(unavailable, 'open')).toEqual({ outcome: 'allowed', failed_open: true });
    expect(evaluateVerifierOutcome(unavailable, 'closed')).toMatchObject({ outcome: 'declined', rule: 'external_unavailable' });
  });

  it('reports an internal decline before the verifier, and the verifier when the internal rules allow', () => {
    const limits = { ...no_limits, amount_minor_max: 10n };
    expect(decideRisk(limits, 11n, empty_window, { kind: 'decline', reason: null }, 'closed')).toMatchObject({ rule: 'max_amount' });
    expect(decideRisk(limits, 10n, empty_window, { kind: 'decline', reason: null }, 'closed')).toMatchObject({ rule: 'external' });
    expect(decideRisk(limits, 10n, empty_window, unavailable, 'closed')).toMatchObject({ rule: 'external_unavailable' });
    expect(decideRisk(limits, 10n, empty_window, { kind: 'allow' }, 'closed').outcome).toBe('allowed');
  });

  it('never leaks a limit or a verifier reason in the message', () => {
    const verdict = decideRisk({ ...no_limits, amount_minor_max: 12_345n }, 20_000n, empty_window, { kind: 'allow' }, 'open');
    expect(verdict.outcome === 'declined' && verdict.message).not.toMatch(/12345|12,345/);
    const external = decideRisk(no_limits, 1n, empty_window, { kind: 'decline', reason: 'device fingerprint 42' }, 'open');
    expect(external.outcome === 'declined' && external.message).not.toMatch(/fingerprint/);
  });
});

// ---- property: the velocity limit holds in every window ------------------------

interface Attempt {
  gap_ms: number;
  amount_minor: bigint;
}
interface Admitted {
  at_ms: number;
  amount_minor: bigint;
}

/** The window as the database reads it: admissions less than the window old (admitted_at > now - 60 s). */
function windowAt(admitted: readonly Admitted[], now_ms: number): VelocityWindow {
  const recent = admitted.filter((admission) => now_ms - admission.at_ms < velocity_window_ms);
  return { count: recent.length, amount_minor: recent.reduce((sum, admission) => sum + admission.amount_minor, 0n) };
}

/** Runs attempts in time order, as the service does under the account's lock; answers what was admitted. */
function run(limits: RiskLimits, attempts: readonly Attempt[]): { admitted: Admitted[]; fitting_declined: number } {
  const admitted: Admitted[] = [];
  let now_ms = 0;
  let fitting_declined = 0;
  for (const attempt of attempts) {
    now_ms += attempt.gap_ms;
    const window = windowAt(admitted, now_ms);
    const verdict = evaluateInternalRules(limits, attempt.amount_minor, window);
    if (verdict.outcome === 'allowed') admitted.push({ at_ms: now_ms, amount_minor: attempt.amount_minor });
    else if (fits(limits, attempt.amount_minor, window)) fitting_declined += 1;
  }
  return { admitted, fitting_declined };
}

function fits(limits: RiskLimits, amount_minor: bigint, window: VelocityWindow): boolean {
  return (
    (limits.amount_minor_max === null || amount_minor <= limits.amount_minor_max) &&
    (limits.velocity_count_max === null || window.count + 1 <= limits.velocity_count_max) &&
    (limits.velocity_amount_minor_max === null || window.amount_minor + amount_minor <= limits.velocity_amount_minor_max)
  );
}

const limits_arbitrary: fc.Arbitrary<RiskLimits> = fc.record({
  amount_minor_max: fc.option(fc.bigInt({ min: 1n, max: 5_000n })),
  velocity_count_max: fc.option(fc.integer({ min: 1, max: 8 })),
  velocity_amount_minor_max: fc.option(fc.bigInt({ min: 1n, max: 20_000n })),
});

const attempts_arbitrary: fc.Arbitrary<Attempt[]> = fc.array(
  fc.record({
    // Bursts (0 ms), steps near the window's edge, and long pauses.
    gap_ms: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 }), fc.constantFrom(velocity_window_ms - 1, velocity_window_ms, velocity_window_ms + 1)),
    amount_minor: fc.oneof(fc.bigInt({ min: 1n, max: 3_000n }), fc.constant(1n)),
  }),
  { maxLength: 80 },
);

describe('velocity, as a property over sequences of attempts', () => {
  it('never admits more than N payments, nor more than X minor units, in any 60 s window', () => {
    fc.assert(
      fc.property(limits_arbitrary, attempts_arbitrary, (limits, attempts) => {
        const { admitted } = run(limits, attempts);
        // The fullest windows start at an admission: check the window starting at each one.
        for (const start of admitted) {
          const inside = admitted.filter((admission) => admission.at_ms >= start.at_ms && admission.at_ms - start.at_ms < velocity_window_ms);
          if (limits.velocity_count_max !== null) expect(inside.length).toBeLessThanOrEqual(limits.velocity_count_max);
          const total = inside.reduce((sum, admission) => sum + admission.amount_minor, 0n);
          if (limits.velocity_amount_minor_max !== null) expect(total <= limits.velocity_amount_minor_max).toBe(true);
          if (limits.amount_minor_max !== null) expect(start.amount_minor <= limits.amount_minor_max).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never declines an attempt that fits within every limit', () => {
    fc.assert(
      fc.property(limits_arbitrary, attempts_arbitrary, (limits, attempts) => {
        expect(run(limits, attempts).fitting_declined).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
