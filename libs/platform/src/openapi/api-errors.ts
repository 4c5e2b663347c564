import { applyDecorators } from '@nestjs/common';
import { ApiResponse, type OpenAPIObject } from '@nestjs/swagger';

type SchemaObject = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string];

/** The API.md error envelope, as the OpenAPI component every error response refers to. */
export const error_envelope_schema_name = 'ErrorEnvelope';
export const error_envelope_schema: SchemaObject = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['type', 'code', 'message'],
      additionalProperties: false,
      properties: {
        type: {
          type: 'string',
          enum: ['invalid_request_error', 'authentication_error', 'permission_error', 'idempotency_error', 'rate_limit_error', 'payment_error', 'api_error'],
        },
        code: { type: 'string', description: 'A machine-readable code, e.g. unknown_parameter, insufficient_funds.' },
        message: { type: 'string' },
        param: { type: 'string', description: 'The field or header at fault, when one is.' },
      },
    },
  },
};

export type ErrorStatus = 400 | 401 | 402 | 403 | 404 | 409 | 422 | 429 | 503;

function describe(status: ErrorStatus): string {
  switch (status) {
    case 400:
      return 'Bad input (invalid_request_error): parameter_invalid, parameter_missing, unknown_parameter, invalid_json, body_too_large, idempotency_key_missing.';
    case 401:
      return 'Missing or bad credentials (authentication_error).';
    case 402:
      return 'The payment failed (payment_error): insufficient_funds, risk_declined, currency_mismatch.';
    case 403:
      return 'These credentials may not call this endpoint (permission_error).';
    case 404:
      return "No such object, or another principal's (invalid_request_error, resource_missing).";
    case 409:
      return 'The object is in the wrong state (payment_intent_unexpected_state), or a request with this Idempotency-Key is still running (idempotency_error, idempotency_request_in_progress).';
    case 422:
      return 'This Idempotency-Key was used with another request (idempotency_error, idempotency_key_reused).';
    case 429:
      return 'Too many requests (rate_limit_error: rate_limited past a per-second budget, too_many_concurrent_requests past the requests one principal may have pending at once); the Retry-After header says how many seconds to wait.';
    case 503:
      return 'Not answerable now (api_error: service_unavailable when a service or the database it needs cannot be reached; ledger_unavailable when a payment step was sent to the ledger and its outcome is not known yet). Nothing is lost: the same request again with the same Idempotency-Key is safe and answers the outcome.';
  }
}

/** Documents error answers of a route, each with the API.md envelope schema. */
export function ApiErrors(...statuses: ErrorStatus[]): MethodDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: describe(status), schema: { $ref: `#/components/schemas/${error_envelope_schema_name}` } }),
    ),
  );
}
