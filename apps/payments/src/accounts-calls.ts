import { ApiError, ErrorCode } from '@paynet/contracts';
import { RpcTimeoutError } from '@paynet/platform';

/**
 * True when accounts answered a money command with a refusal (any 4xx:
 * insufficient funds, an account gone, a hold expired): it was not applied,
 * and never will be under that id. Anything else (a timeout, a 5xx) leaves
 * the outcome unknown, and the caller keeps what it wrote down so the same
 * command can be sent again.
 */
export function isRefusal(error: unknown): error is ApiError {
  return error instanceof ApiError && !(error instanceof RpcTimeoutError) && error.status >= 400 && error.status < 500;
}

/** What pay answers when the outcome is unknown: 503, not stored, so the same request may be sent again. */
export function ledgerUnavailable(): ApiError {
  return new ApiError(
    503,
    'api_error',
    ErrorCode.ledger_unavailable,
    'The ledger did not answer in time. The payment is processing and will be settled shortly; sending the same request again is safe.',
  );
}
