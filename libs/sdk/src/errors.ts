import { type ErrorType, isErrorType } from '@paynet/contracts';


/** A non-2xx answer, with the API.md error envelope it carried. */
export class PaynetError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    /** A code of the API (`insufficient_funds`, ...), or `unexpected_response` when the body was not an error envelope. */
    readonly code: string,
    message: string,
    readonly param?: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'PaynetError';
  }

  static fromResponse(status: number, body: unknown): PaynetError {
    const error = (body as { error?: Record<string, unknown> } | null)?.error;
    if (typeof error === 'object' && error !== null && typeof error.code === 'string' && isErrorType(error.type)) {
      const message = typeof error.message === 'string' ? error.message : error.code;
      const param = typeof error.param === 'string' ? error.param : undefined;
      return new PaynetError(status, error.type as ErrorType, error.code, message, param, body);
    }
    // Not our envelope: a proxy, a crash page. Classify by status alone.
    const type: ErrorType = status === 429 ? 'rate_limit_error' : status >= 500 ? 'api_error' : 'invalid_request_error';
    return new PaynetError(status, type, 'unexpected_response', `HTTP ${status} without an error body`, undefined, body);
  }
}

/** A webhook whose signature, timestamp or body does not check out. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly code: 'headers_missing' | 'timestamp_invalid' | 'timestamp_out_of_tolerance' | 'invalid_signature' | 'invalid_json',
    message: string,
  ) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}
