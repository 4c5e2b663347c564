import { outcomeOfAttempt, parseRetryAfter, retry_after_max_ms, retryDelayMs, webhook_attempts_max, webhook_retry_delays_ms } from './retry-schedule.js';

const ok = { kind: 'response', status_code: 200 } as const;
const server_error = { kind: 'response', status_code: 500 } as const;
const timeout = { kind: 'no_response', reason: 'timeout' } as const;

describe('webhook retry schedule', () => {
  it('follows the Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((attempts) => retryDelayMs(attempts, 1));
    expect(delays).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(webhook_retry_delays_ms).toHaveLength(webhook_attempts_max - 1);
  });

  it('multiplies every delay by WEBHOOK_RETRY_SCALE', () => {
    expect(retryDelayMs(1, 0.001)).toBe(5);
    expect(retryDelayMs(2, 0.001)).toBe(300);
    expect(retryDelayMs(7, 0.5)).toBe(18_000_000);
    expect(retryDelayMs(3, 0)).toBe(0);
  });

  it('has no retry after the eighth attempt', () => {
    expect(retryDelayMs(webhook_attempts_max - 1, 1)).toBe(36_000_000);
    expect(retryDelayMs(webhook_attempts_max, 1)).toBeNull();
  });

  it('refuses nonsense input loudly', () => {
    expect(() => retryDelayMs(0, 1)).toThrow(RangeError);
    expect(() => retryDelayMs(1.5, 1)).toThrow(RangeError);
    expect(() => retryDelayMs(1, -1)).toThrow(RangeError);
    expect(() => retryDelayMs(1, Number.NaN)).toThrow(RangeError);
    expect(() => outcomeOfAttempt(webhook_attempts_max, server_error, 1)).toThrow(RangeError);
    expect(() => outcomeOfAttempt(-1, server_error, 1)).toThrow(RangeError);
  });

  it('marks any 2xx succeeded, on any attempt, including the last', () => {
    expect(outcomeOfAttempt(0, ok, 1)).toEqual({ status: 'succeeded', attempts: 1, last_status_code: 200, last_error: null, retry_after_ms: null });
    expect(outcomeOfAttempt(7, { kind: 'response', status_code: 299 }, 1).status).toBe('succeeded');
    expect(outcomeOfAttempt(0, { kind: 'response', status_code: 204 }, 1).status).toBe('succeeded');
  });

  it('retries 3xx, 4xx, 5xx and no answer at all, keeping what happened', () => {
    for (const status_code of [199, 300, 302, 400, 404, 500, 503]) {
      expect(outcomeOfAttempt(0, { kind: 'response', status_code }, 1)).toEqual({
        status: 'pending',
        attempts: 1,
        last_status_code: status_code,
        last_error: null,
        retry_after_ms: 5_000,
      });
    }
    expect(outcomeOfAttempt(1, timeout, 1)).toEqual({ status: 'pending', attempts: 2, last_status_code: null, last_error: 'timeout', retry_after_ms: 300_000 });
  });

  it('records failed after the eighth failed attempt, and not before', () => {
    expect(outcomeOfAttempt(6, server_error, 1).status).toBe('pending');
    expect(outcomeOfAttempt(7, server_error, 1)).toEqual({ status: 'failed', attempts: 8, last_status_code: 500, last_error: null, retry_after_ms: null });
  });

  it('gives up at once on 410 Gone, whatever attempt it is', () => {
    expect(outcomeOfAttempt(0, { kind: 'response', status_code: 410 }, 1)).toEqual({ status: 'failed', attempts: 1, last_status_code: 410, last_error: null, retry_after_ms: null });
  });

  it('waits at least what a 429 or 503 Retry-After asks, unscaled, and at most a day for it', () => {
    const asked = (status_code: number, retry_after_ms: number) => outcomeOfAttempt(0, { kind: 'response', status_code, retry_after_ms }, 0.001);
    expect(asked(429, 2_000).retry_after_ms).toBe(2_000);
    expect(asked(503, 120_000).retry_after_ms).toBe(120_000);
    expect(asked(429, 10 * retry_after_max_ms).retry_after_ms).toBe(retry_after_max_ms);
    // A Retry-After shorter than the schedule does not hurry the retry.
    expect(outcomeOfAttempt(1, { kind: 'response', status_code: 503, retry_after_ms: 1_000 }, 1).retry_after_ms).toBe(300_000);
    // Other statuses do not get to choose.
    expect(asked(500, 2_000).retry_after_ms).toBe(5);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    for (const bad of [null, '', 'soon', '-5', '1.5']) expect([bad, parseRetryAfter(bad, now)]).toEqual([bad, null]);
  });
});
