import { errorMessage } from '@paynet/devstack';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';

/** An HTTP answer: its status and parsed body. */
export interface Answer {
  status: number;
  body: unknown;
}

/**
 * How one idempotent request ended, after the client's retries:
 * - `answered`: a final answer (2xx, or a 4xx that sending again would not change);
 * - `unknown`: the client gave up on timeouts, connection errors, 5xx or 409 in progress:
 *   the change may or may not have happened.
 */
export type Outcome = { kind: 'answered'; status: number; body: unknown } | { kind: 'unknown'; last: string };

export interface Sent {
  outcome: Outcome;
  /** HTTP requests it took, all with the same Idempotency-Key; more than one means it was retried. */
  sends: number;
}

/** What the progress line counts, across all clients. */
export interface CallCounters {
  requests: number;
  /** Answers that made the client retry: timeouts, connection errors, 5xx, 429, 409 in progress. */
  errors: number;
  retried: number;
  /** Errors by kind ("503 ledger_unavailable", "The operation was aborted due to timeout"). */
  error_kinds: Record<string, number>;
}

/**
 * Bounds of a client's patience: 12 sends, 200 ms doubling to 4 s apart, each
 * abandoned after request_timeout_ms. Long enough to outlast a service's
 * restart and an idempotency lease (30 s) left by a killed request.
 */
export const send_attempts_max = 12;
export const request_timeout_ms = 8_000;
const backoff = new ExponentialBackoff({ initialDelay: 200, maxDelay: 4_000 });

/** Sending again with the same key is what the API asks for these (API.md, Idempotency). */
export function isRetryable(answer: Answer): boolean {
  if (answer.status >= 500 || answer.status === 429) return true;
  return answer.status === 409 && errorCode(answer.body) === 'idempotency_request_in_progress';
}

export function errorCode(body: unknown): string | undefined {
  const error = (body as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string' ? error.code : undefined;
}

/**
 * Sends one idempotent request (`send` must re-send the same Idempotency-Key
 * and body each time) until it gets a final answer or the bounds run out.
 */
export async function sendIdempotent(send: () => Promise<Answer>, counters: CallCounters): Promise<Sent> {
  let sends = 0;
  let last = 'no answer';
  const policy = retry(handleAll.orWhenResult((answer) => isRetryable(answer as Answer)), { maxAttempts: send_attempts_max - 1, backoff });
  try {
    const answer = await policy.execute(async () => {
      sends++;
      counters.requests++;
      if (sends === 2) counters.retried++;
      try {
        const answer = await send();
        if (isRetryable(answer)) {
          last = `${answer.status} ${errorCode(answer.body) ?? ''}`.trim();
          countError(counters, last);
        }
        return answer;
      } catch (error) {
        last = errorMessage(error);
        countError(counters, last);
        throw error;
      }
    });
    if (isRetryable(answer)) return { outcome: { kind: 'unknown', last }, sends };
    return { outcome: { kind: 'answered', status: answer.status, body: answer.body }, sends };
  } catch {
    return { outcome: { kind: 'unknown', last }, sends };
  }
}

function countError(counters: CallCounters, kind: string): void {
  counters.errors++;
  counters.error_kinds[kind] = (counters.error_kinds[kind] ?? 0) + 1;
}

export function isSuccess(outcome: Outcome): boolean {
  return outcome.kind === 'answered' && outcome.status >= 200 && outcome.status <= 299;
}

/** The body of a 2xx answer; undefined for anything else. */
export function successBody<T>(outcome: Outcome): T | undefined {
  return outcome.kind === 'answered' && isSuccess(outcome) ? (outcome.body as T) : undefined;
}

/** "402 insufficient_funds", or why there was no final answer. */
export function describeOutcome(outcome: Outcome): string {
  if (outcome.kind === 'unknown') return `no final answer (${outcome.last})`;
  return `${outcome.status} ${errorCode(outcome.body) ?? ''}`.trim();
}
