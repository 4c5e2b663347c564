import type { RiskRule } from '@paynet/contracts';

/**
 * Risk rules as pure decisions: no I/O, no clock. The service gathers the
 * facts (the account's admitted attempts in the window, the verifier's
 * answer) and these functions decide.
 */

/** Velocity counts an account's admitted attempts over this rolling window. */
export const velocity_window_seconds = 60;
export const velocity_window_ms = velocity_window_seconds * 1_000;

/** The configured limits; null means no limit. */
export interface RiskLimits {
  amount_minor_max: bigint | null;
  velocity_count_max: number | null;
  velocity_amount_minor_max: bigint | null;
}

/** What the account had admitted in the window before this attempt. */
export interface VelocityWindow {
  count: number;
  amount_minor: bigint;
}

/** What the external verifier said, or why it said nothing. */
export type VerifierOutcome =
  | { kind: 'not_configured' }
  | { kind: 'allow' }
  | { kind: 'decline'; reason: string | null }
  | { kind: 'unavailable'; cause: 'timeout' | 'error' | 'circuit_open'; detail: string };

export type VerifierFailMode = 'open' | 'closed';

export type RiskVerdict =
  | { outcome: 'allowed'; failed_open: boolean }
  | { outcome: 'declined'; rule: RiskRule; message: string };

const allowed: RiskVerdict = { outcome: 'allowed', failed_open: false };

export function velocityEnabled(limits: RiskLimits): boolean {
  return limits.velocity_count_max !== null || limits.velocity_amount_minor_max !== null;
}

/** The internal rules, in a fixed order; the first that refuses names the decline. At the limit is allowed, one over is not. */
export function evaluateInternalRules(limits: RiskLimits, amount_minor: bigint, window: VelocityWindow): RiskVerdict {
  if (amount_minor <= 0n || window.count < 0 || window.amount_minor < 0n) throw new Error('risk: amounts and counts are never negative');
  if (limits.amount_minor_max !== null && amount_minor > limits.amount_minor_max) {
    return declined('max_amount');
  }
  if (limits.velocity_count_max !== null && window.count + 1 > limits.velocity_count_max) {
    return declined('velocity_count');
  }
  if (limits.velocity_amount_minor_max !== null && window.amount_minor + amount_minor > limits.velocity_amount_minor_max) {
    return declined('velocity_amount');
  }
  return allowed;
}

/** The verifier's part: its decline, or, when it could not answer, the configured fail mode. */
export function evaluateVerifierOutcome(outcome: VerifierOutcome, fail_mode: VerifierFailMode): RiskVerdict {
  switch (outcome.kind) {
    case 'not_configured':
    case 'allow':
      return allowed;
    case 'decline':
      return declined('external');
    case 'unavailable':
      return fail_mode === 'open' ? { outcome: 'allowed', failed_open: true } : declined('external_unavailable');
  }
}

/** Both parts together: an internal decline comes first (it is the more specific reason), then the verifier's verdict. */
export function decideRisk(
  limits: RiskLimits,
  amount_minor: bigint,
  window: VelocityWindow,
  outcome: VerifierOutcome,
  fail_mode: VerifierFailMode,
): RiskVerdict {
  const internal = evaluateInternalRules(limits, amount_minor, window);
  if (internal.outcome === 'declined') return internal;
  return evaluateVerifierOutcome(outcome, fail_mode);
}

/**
 * What the holder reads in `last_payment_error.message`. No limit values and
 * no verifier reason: they would tell a fraudster how to stay just under.
 */
export function declineMessage(rule: RiskRule): string {
  switch (rule) {
    case 'max_amount':
      return 'This payment is over the maximum amount allowed for one payment.';
    case 'velocity_count':
      return 'Too many payments from this account in the last minute; try again later.';
    case 'velocity_amount':
      return 'The amount paid from this account in the last minute is over the limit; try again later.';
    case 'external':
      return 'This payment was declined by a risk check.';
    case 'external_unavailable':
      return 'This payment could not be checked for risk right now; try again later.';
  }
}

function declined(rule: RiskRule): RiskVerdict {
  return { outcome: 'declined', rule, message: declineMessage(rule) };
}
