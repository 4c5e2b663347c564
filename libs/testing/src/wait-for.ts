import { errorMessage, sleep } from '@paynet/devstack';

export interface WaitForOptions {
  timeout_ms?: number;
  interval_ms?: number;
  /** Says what was awaited, in the timeout error. */
  description?: string;
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

const wait_for_timeout_ms = 5_000;
const wait_for_interval_ms = 50;

/**
 * Calls `predicate` until it returns something truthy and returns that; a
 * throw counts as "not yet" (the last one is reported). Bounded by timeout_ms.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions = {}): Promise<Truthy<T>> {
  const timeout_ms = options.timeout_ms ?? wait_for_timeout_ms;
  const interval_ms = options.interval_ms ?? wait_for_interval_ms;
  const deadline = Date.now() + timeout_ms;
  const attempts_max = Math.ceil(timeout_ms / interval_ms) + 1;
  let last_error: unknown;
  for (let attempt = 0; attempt < attempts_max; attempt++) {
    try {
      const value = await predicate();
      if (value) return value as Truthy<T>;
    } catch (error) {
      last_error = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval_ms, Math.max(0, deadline - Date.now())));
  }
  const what = options.description ? ` for ${options.description}` : '';
  const why = last_error === undefined ? '' : ` (last error: ${errorMessage(last_error)})`;
  throw new Error(`waitFor timed out after ${timeout_ms} ms${what}${why}`);
}
