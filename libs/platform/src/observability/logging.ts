import type { NextFunction, Request, Response } from 'express';
import type { Params } from 'nestjs-pino';
import { acceptId, currentContext, runWithContext } from './request-context.js';

/** Query parameters that carry secrets (stream and holder tokens) never reach a log line. */
const secret_query = /([?&](?:token|api_secret|secret)=)[^&]*/gi;

export function redactUrl(url: string): string {
  return url.replace(secret_query, '$1[redacted]');
}

/** Gives each HTTP request its ids before anything else runs. */
export function requestContextMiddleware(request: Request, response: Response, next: NextFunction): void {
  const request_id = acceptId(request.header('x-request-id'));
  const correlation_id = request.header('x-correlation-id') ? acceptId(request.header('x-correlation-id')) : request_id;
  (request as Request & { id: string }).id = request_id;
  response.setHeader('Request-Id', request_id);
  runWithContext({ request_id, correlation_id }, next);
}

export function loggerParams(service: string, level: string): Params {
  return {
    pinoHttp: {
      level,
      base: { service },
      genReqId: (request) => (request as { id?: string }).id ?? acceptId(undefined),
      mixin: () => ({ ...currentContext() }),
      autoLogging: { ignore: (request) => /^\/(health|metrics)/.test(request.url ?? '') },
      customLogLevel: responseLogLevel,
      // Only what an operator needs; headers (Authorization, X-Signature, ...) are left out entirely.
      serializers: {
        req: (request: { id?: string; method?: string; url?: string }) => ({
          id: request.id,
          method: request.method,
          url: redactUrl(request.url ?? ''),
        }),
        res: (response: { statusCode?: number }) => ({ status_code: response.statusCode }),
      },
      redact: { paths: ['*.token', '*.api_secret', '*.webhook_secret', '*.authorization'], censor: '[redacted]' },
    },
  };
}

/**
 * A request's line: errors for 5xx, and refusals of the rate limits at debug
 * (a flood would otherwise write a line per refused request; they are counted
 * in `paynet_rate_limited_total`).
 */
export function responseLogLevel(_request: unknown, response: { statusCode?: number }, error?: Error): 'error' | 'debug' | 'info' {
  const status = response.statusCode ?? 0;
  if (error || status >= 500) return 'error';
  if (status === 429) return 'debug';
  return 'info';
}
