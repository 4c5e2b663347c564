import { outcomeOfAttempt, retryDelayMs, webhook_attempts_max, webhook_retry_delays_ms } from './retry-schedule.js';

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
    for (const status_code of [199, 300, 302, 400, 410, 500, 503]) {
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
});
