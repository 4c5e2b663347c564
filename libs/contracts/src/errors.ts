/**
 * The API.md error envelope and the one exception class that carries it, over
 * HTTP and over NATS alike. Every code the platform answers with is listed
 * here, so a new one cannot go unmapped.
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'idempotency_error'
  | 'rate_limit_error'
  | 'payment_error'
  | 'api_error';

export const ErrorCode = {
  // 400
  parameter_invalid: 'parameter_invalid',
  parameter_missing: 'parameter_missing',
  unknown_parameter: 'unknown_parameter',
  invalid_json: 'invalid_json',
  body_too_large: 'body_too_large',
  amount_too_large: 'amount_too_large',
  resource_limit_exceeded: 'resource_limit_exceeded',
  // 401 / 403
  authentication_required: 'authentication_required',
  invalid_token: 'invalid_token',
  invalid_signature: 'invalid_signature',
  timestamp_out_of_tolerance: 'timestamp_out_of_tolerance',
  replayed_request: 'replayed_request',
  invalid_api_key: 'invalid_api_key',
  forbidden: 'forbidden',
  // 404 / 409 / 422
  resource_missing: 'resource_missing',
  route_not_found: 'route_not_found',
  payment_intent_unexpected_state: 'payment_intent_unexpected_state',
  idempotency_key_reused: 'idempotency_key_reused',
  idempotency_request_in_progress: 'idempotency_request_in_progress',
  idempotency_key_missing: 'idempotency_key_missing',
  // 402
  insufficient_funds: 'insufficient_funds',
  risk_declined: 'risk_declined',
  currency_mismatch: 'currency_mismatch',
  // 429 / 5xx
  rate_limited: 'rate_limited',
  /** 429 on the stream's upgrade: the token has as many streams open as API.md allows. */
  too_many_streams: 'too_many_streams',
  /** 429: the principal (or address) already has as many requests in flight and waiting on this server as it may. */
  too_many_concurrent_requests: 'too_many_concurrent_requests',
  internal_error: 'internal_error',
  service_unavailable: 'service_unavailable',
  /** 503 from pay: the ledger did not answer in time; the payment stays processing and is settled by the reconciler. */
  ledger_unavailable: 'ledger_unavailable',
  // ledger commands (NATS)
  transfer_exists_with_different_fields: 'transfer_exists_with_different_fields',
  account_missing: 'account_missing',
  // hold commands (NATS), all 409
  hold_exists_with_different_fields: 'hold_exists_with_different_fields',
  hold_expired: 'hold_expired',
  hold_already_posted: 'hold_already_posted',
  hold_already_voided: 'hold_already_voided',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ApiErrorBody {
  error: { type: ErrorType; code: ErrorCode; message: string; param?: string };
}

/** What travels in a NATS error reply: the HTTP status with the body. */
export interface ErrorEnvelope extends ApiErrorBody {
  status: number;
}

export class ApiError extends Error {
  /** Set on 429: seconds to wait, answered as the Retry-After header. */
  retry_after_seconds?: number;

  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: ErrorCode,
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ApiErrorBody {
    const error: ApiErrorBody['error'] = { type: this.type, code: this.code, message: this.message };
    if (this.param !== undefined) error.param = this.param;
    return { error };
  }

  toEnvelope(): ErrorEnvelope {
    return { status: this.status, ...this.toBody() };
  }

  static fromEnvelope(value: unknown): ApiError | undefined {
    if (!isErrorEnvelope(value)) return undefined;
    const { type, code, message, param } = value.error;
    return new ApiError(value.status, type, code, message, param);
  }

  static badRequest(code: ErrorCode, message: string, param?: string): ApiError {
    return new ApiError(400, 'invalid_request_error', code, message, param);
  }
  static unauthorized(code: ErrorCode, message: string): ApiError {
    return new ApiError(401, 'authentication_error', code, message);
  }
  static forbidden(message: string): ApiError {
    return new ApiError(403, 'permission_error', ErrorCode.forbidden, message);
  }
  /** Also the answer for another principal's object: it does not exist for them. */
  static notFound(what: string, id: string, param?: string): ApiError {
    return new ApiError(404, 'invalid_request_error', ErrorCode.resource_missing, `No such ${what}: '${id}'`, param);
  }
  static conflict(code: ErrorCode, message: string): ApiError {
    return new ApiError(409, 'invalid_request_error', code, message);
  }
  static payment(code: ErrorCode, message: string, param?: string): ApiError {
    return new ApiError(402, 'payment_error', code, message, param);
  }
  static unavailable(message: string): ApiError {
    return new ApiError(503, 'api_error', ErrorCode.service_unavailable, message);
  }
  /** 429: the caller may try again after `retry_after_seconds` (sent as Retry-After). */
  static rateLimited(message: string, retry_after_seconds: number): ApiError {
    return Object.assign(new ApiError(429, 'rate_limit_error', ErrorCode.rate_limited, message), { retry_after_seconds });
  }
  static internal(): ApiError {
    return new ApiError(500, 'api_error', ErrorCode.internal_error, 'An internal error occurred; it has been logged.');
  }
}

export const error_types: readonly ErrorType[] = [
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'idempotency_error',
  'rate_limit_error',
  'payment_error',
  'api_error',
];

export function isErrorType(value: unknown): value is ErrorType {
  return (error_types as readonly unknown[]).includes(value);
}

export function isErrorEnvelope(value: unknown): value is ErrorEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<ErrorEnvelope>;
  return (
    typeof candidate.status === 'number' &&
    typeof candidate.error === 'object' &&
    candidate.error !== null &&
    isErrorType(candidate.error.type) &&
    typeof candidate.error.code === 'string' &&
    typeof candidate.error.message === 'string'
  );
}
