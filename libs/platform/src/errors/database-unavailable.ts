/**
 * Whether an error means PostgreSQL could not be reached or went away (not
 * that a statement was wrong): the service is unavailable for now and the
 * caller should try again, which API.md answers with 503 `service_unavailable`
 * and Stripe with a retryable error, not a 500 that reads like a bug.
 *
 * Recognised by what node-postgres and TypeORM carry: the SQLSTATE of the
 * driver error (TypeORM's QueryFailedError keeps it in `driverError`), a
 * socket error code, or the messages pg gives a connection it lost.
 */
const unavailable_sqlstate_classes = ['08']; // connection_exception
const unavailable_sqlstates = new Set([
  '57P01', // admin_shutdown: the server is stopping (smart or fast shutdown), or the backend was terminated
  '57P02', // crash_shutdown: another backend crashed, the postmaster is resetting
  '57P03', // cannot_connect_now: the server is starting up or in recovery
  '53300', // too_many_connections
]);
const unavailable_socket_codes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const unavailable_messages = [
  /^Connection terminated/, // unexpectedly / due to connection timeout
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error and is not queryable/,
  /Cannot use a pool after calling end on the pool/,
  /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)/,
];
const cause_depth_max = 4;

export const database_retry_after_seconds = 1;

export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < cause_depth_max && typeof current === 'object' && current !== null; depth += 1) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (unavailable_sqlstates.has(code) || unavailable_socket_codes.has(code)) return true;
      if (code.length === 5 && unavailable_sqlstate_classes.includes(code.slice(0, 2))) return true;
    }
    if (typeof message === 'string' && unavailable_messages.some((pattern) => pattern.test(message))) return true;
    const next = current as { driverError?: unknown; cause?: unknown };
    current = next.driverError ?? next.cause;
  }
  return false;
}
