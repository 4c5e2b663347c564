import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ApiError, ErrorCode } from '@paynet/contracts';
import type { Response } from 'express';
import { Observable, throwError } from 'rxjs';
import { ReplayedAnswer } from '../idempotency/idempotency.store.js';
import { database_retry_after_seconds, isDatabaseUnavailable } from './database-unavailable.js';

/**
 * Maps every error to the API.md envelope: over HTTP as the response, over
 * NATS as the error reply (status included), so the caller can rebuild the
 * same ApiError. PostgreSQL out of reach is a 503 with Retry-After (try
 * again, with the same Idempotency-Key); anything else unexpected is logged
 * and answered as a bare 500.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (exception instanceof ReplayedAnswer && host.getType() === 'http') {
      const response = host.switchToHttp().getResponse<Response>();
      response.status(exception.answer.status).setHeader('Idempotent-Replayed', 'true').json(exception.answer.body);
      return;
    }
    const error = toApiError(exception);
    if (error.status === 503 && isDatabaseUnavailable(exception)) this.logger.warn({ err: exception }, 'database unavailable');
    else if (error.status >= 500) this.logger.error({ err: exception }, 'request failed');
    if (host.getType() === 'rpc') return throwError(() => error.toEnvelope());
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) return;
    // A 503 from a service we called over NATS arrives without it: every 503 says when to try again.
    const retry_after_seconds = error.retry_after_seconds ?? (error.status === 503 ? database_retry_after_seconds : undefined);
    if (retry_after_seconds !== undefined) response.setHeader('Retry-After', String(retry_after_seconds));
    response.status(error.status).json(error.toBody());
  }
}

/**
 * A body over HTTP_BODY_LIMIT is bad input like any other: API.md answers bad
 * input with 400 and gives invalid_request_error no 413, so 400 it is.
 */
export const body_too_large_error = () =>
  ApiError.badRequest(ErrorCode.body_too_large, 'The request body is larger than this service accepts.');

/**
 * Body-parser and Nest's own HTTP errors, recognised by what they carry (Nest
 * hands body-parser's client errors over as HttpExceptions with their status:
 * an unsupported Content-Encoding or charset becomes a 400 below).
 */
export function toApiError(exception: unknown): ApiError {
  if (exception instanceof ApiError) return exception;
  const parserType = (exception as { type?: unknown } | null)?.type;
  if (parserType === 'entity.parse.failed') {
    return ApiError.badRequest(ErrorCode.invalid_json, 'The request body is not valid JSON.');
  }
  if (parserType === 'entity.too.large') return body_too_large_error();
  if (exception instanceof HttpException) return fromHttpException(exception);
  if (isDatabaseUnavailable(exception)) {
    return Object.assign(ApiError.unavailable('The database is unavailable; try again (with the same Idempotency-Key).'), {
      retry_after_seconds: database_retry_after_seconds,
    });
  }
  return ApiError.internal();
}

function fromHttpException(exception: HttpException): ApiError {
  const status = exception.getStatus();
  const cause = (exception as { cause?: { type?: unknown } }).cause;
  if (cause?.type === 'entity.parse.failed' || (status === 400 && /JSON/i.test(exception.message))) {
    return ApiError.badRequest(ErrorCode.invalid_json, 'The request body is not valid JSON.');
  }
  if (status === 413) return body_too_large_error();
  if (status === 404) {
    return new ApiError(404, 'invalid_request_error', ErrorCode.route_not_found, 'Unrecognized request URL.');
  }
  if (status === 405) return new ApiError(405, 'invalid_request_error', ErrorCode.route_not_found, exception.message);
  if (status < 500) return ApiError.badRequest(ErrorCode.parameter_invalid, exception.message);
  return ApiError.internal();
}
