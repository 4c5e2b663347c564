/**
 * The Standard Webhooks retry schedule (API.md, push: webhooks): the first
 * attempt at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h,
 * every delay multiplied by WEBHOOK_RETRY_SCALE. Pure, so it is tested alone.
 */
export const webhook_attempts_max = 8;

const second_ms = 1_000;
const minute_ms = 60 * second_ms;
const hour_ms = 60 * minute_ms;

/** Delay after failed attempt n (1-based) before attempt n + 1. */
export const webhook_retry_delays_ms: readonly number[] = [
  5 * second_ms,
  5 * minute_ms,
  30 * minute_ms,
  2 * hour_ms,
  5 * hour_ms,
  10 * hour_ms,
  10 * hour_ms,
];

if (webhook_retry_delays_ms.length !== webhook_attempts_max - 1) {
  throw new Error('webhook_retry_delays_ms must hold one delay between each two attempts');
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** How one attempt ended: an HTTP status (with the delay a 429 or 503 asked for), or no answer at all (timeout, refused, DNS). */
export type AttemptResult = { kind: 'response'; status_code: number; retry_after_ms?: number | null } | { kind: 'no_response'; reason: string };

/** API.md: a Retry-After is honoured up to a day, whatever WEBHOOK_RETRY_SCALE says. */
export const retry_after_max_ms = 24 * hour_ms;
/** 410 Gone: the endpoint says it is not coming back. */
export const gone_status_code = 410;
const retry_after_statuses: readonly number[] = [429, 503];

/** Pure: the delay a Retry-After header asks for (seconds or an HTTP date), or null when it says nothing usable. */
export function parseRetryAfter(header: string | null, now_ms: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * second_ms;
  const at_ms = Date.parse(text);
  if (Number.isNaN(at_ms) || !/[A-Za-z]/.test(text)) return null;
  return Math.max(0, at_ms - now_ms);
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  /** Attempts made, this one included. */
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  /** When to try again, from now; null unless still pending. */
  retry_after_ms: number | null;
}

export function isSuccess(result: AttemptResult): boolean {
  return result.kind === 'response' && result.status_code >= 200 && result.status_code <= 299;
}

/** The delay before the next attempt after `attempts` failed ones, or null when none is left. */
export function retryDelayMs(attempts: number, scale: number): number | null {
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
  if (!(scale >= 0) || !Number.isFinite(scale)) throw new RangeError(`scale must be a finite number >= 0, got ${scale}`);
  if (attempts >= webhook_attempts_max) return null;
  return Math.round((webhook_retry_delays_ms[attempts - 1] as number) * scale);
}

/** What a delivery becomes after one more attempt, given the attempts made before it. */
export function outcomeOfAttempt(attempts_before: number, result: AttemptResult, scale: number): AttemptOutcome {
  if (attempts_before < 0 || attempts_before >= webhook_attempts_max) {
    throw new RangeError(`attempt ${attempts_before + 1} is beyond webhook_attempts_max`);
  }
  const attempts = attempts_before + 1;
  const last_status_code = result.kind === 'response' ? result.status_code : null;
  const last_error = result.kind === 'response' ? null : result.reason;
  if (isSuccess(result)) return { status: 'succeeded', attempts, last_status_code, last_error, retry_after_ms: null };
  const scheduled_ms = last_status_code === gone_status_code ? null : retryDelayMs(attempts, scale);
  if (scheduled_ms === null) return { status: 'failed', attempts, last_status_code, last_error, retry_after_ms: null };
  const asked_ms = result.kind === 'response' && retry_after_statuses.includes(result.status_code) ? (result.retry_after_ms ?? null) : null;
  // No sooner than the endpoint asked, and never more than a day for its asking.
  const retry_after_ms = asked_ms === null ? scheduled_ms : Math.max(scheduled_ms, Math.min(asked_ms, retry_after_max_ms));
  return { status: 'pending', attempts, last_status_code, last_error, retry_after_ms };
}
