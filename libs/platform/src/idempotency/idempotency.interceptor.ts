import { applyDecorators, CallHandler, createParamDecorator, ExecutionContext, Injectable, Logger, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import { ApiError, ErrorCode } from '@paynet/contracts';
import { createHash } from 'node:crypto';
import { catchError, finalize, from, mergeMap, Observable, tap, throwError } from 'rxjs';
import { type AuthenticatedRequest, principalScope } from '../auth/principal.js';
import { toApiError } from '../errors/api-exception.filter.js';
import { ApiErrors } from '../openapi/api-errors.js';
import { IdempotencyClaim, idempotency_key_length_max, IdempotencyStore, ReplayedAnswer } from './idempotency.store.js';

const IDEMPOTENT = 'paynet:idempotent';
const key_pattern = /^[\x21-\x7e]+$/;

export interface IdempotentOptions {
  /** The key is mandatory (API.md). */
  required: boolean;
  /**
   * The handler claims the key in its own statement (IdempotencyStore.claimCte
   * or answeredCte, then claimAlone() if that found it taken) instead of the
   * interceptor claiming it before: one round trip and one transaction fewer.
   */
  in_request?: boolean;
}

/** The route accepts Idempotency-Key; `required` makes it mandatory (API.md). Documented in OpenAPI with its 400/409/422. */
export const Idempotent = (options: IdempotentOptions) =>
  applyDecorators(
    SetMetadata(IDEMPOTENT, options),
    ApiHeader({
      name: 'Idempotency-Key',
      required: options.required,
      description: `1 to ${idempotency_key_length_max} printable ASCII characters, scoped to the caller and kept at least 24 h: the same key with the same request replays the first answer (Idempotent-Replayed: true).`,
      schema: { type: 'string', minLength: 1, maxLength: idempotency_key_length_max },
    }),
    ApiErrors(400, 409, 422),
  );

/** The claim on the request's key, for the service to complete in its transaction (undefined without a key). */
export const IdempotencyKey = createParamDecorator(
  (_: unknown, context: ExecutionContext): IdempotencyClaim | undefined =>
    context.switchToHttp().getRequest<AuthenticatedRequest & { idempotency?: IdempotencyClaim }>().idempotency,
);

/** Errors of requests that began work are part of their answer (API.md); these statuses are kept. */
function isStoredError(error: ApiError): boolean {
  return error.status === 402 || error.status === 404 || (error.status === 409 && error.type !== 'idempotency_error');
}

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly logger = new Logger('Idempotency');

  constructor(
    private readonly reflector: Reflector,
    private readonly store: IdempotencyStore,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const options = this.reflector.get<IdempotentOptions | undefined>(IDEMPOTENT, context.getHandler());
    if (!options || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<AuthenticatedRequest & { idempotency?: IdempotencyClaim }>();
    const key = readKey(request, options.required);
    if (key === undefined || !request.principal) return next.handle();
    const fingerprint = createHash('sha256')
      .update(`${request.method}\n${request.originalUrl}\n`)
      .update(request.rawBody ?? Buffer.alloc(0))
      .digest('hex');
    const scope = principalScope(request.principal);
    if (options.in_request) return this.handle(request, this.store.deferred(scope, key, fingerprint), next);
    return from(this.store.begin(scope, key, fingerprint)).pipe(
      mergeMap((begun) => {
        if (begun.kind === 'replay') return throwError(() => new ReplayedAnswer(begun.answer));
        return this.handle(request, begun.claim, next);
      }),
    );
  }

  private handle(request: { idempotency?: IdempotencyClaim }, claim: IdempotencyClaim, next: CallHandler): Observable<unknown> {
    request.idempotency = claim;
    return next.handle().pipe(
      tap(() => {
        if (!claim.completed) this.logger.error('an idempotent route answered without storing its answer');
      }),
      catchError((error: unknown) => from(this.settle(claim, error)).pipe(mergeMap(() => throwError(() => error)))),
      // However the request ended, its lease is no longer renewed.
      finalize(() => claim.stopHeartbeat()),
    );
  }

  /** A held claim whose request failed: its answer is stored if it began work, else the key is freed. An unheld one was never ours. */
  private async settle(claim: IdempotencyClaim, error: unknown): Promise<void> {
    if (claim.completed || !claim.held) return;
    const api_error = toApiError(error);
    if (isStoredError(api_error)) await this.store.completeAlone(claim, { status: api_error.status, body: api_error.toBody() });
    else await this.store.release(claim);
  }
}

function readKey(request: AuthenticatedRequest, required: boolean): string | undefined {
  const key = request.header('idempotency-key');
  if (key === undefined || key === '') {
    if (!required) return undefined;
    throw ApiError.badRequest(ErrorCode.idempotency_key_missing, 'This request requires an Idempotency-Key header.', 'Idempotency-Key');
  }
  if (key.length > idempotency_key_length_max || !key_pattern.test(key)) {
    throw ApiError.badRequest(ErrorCode.parameter_invalid, `Idempotency-Key must be 1 to ${idempotency_key_length_max} printable ASCII characters.`, 'Idempotency-Key');
  }
  return key;
}
