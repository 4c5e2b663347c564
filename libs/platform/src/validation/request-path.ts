import { ApiError, ErrorCode } from '@paynet/contracts';
import type { NextFunction, Request, Response } from 'express';

/**
 * Refuses, before routing, an HTTP/1.1 request without Host (RFC 9112 3.2), and a path no route can read: bad percent-encoding
 * (Express would answer its own HTML 400) or a NUL character (PostgreSQL text
 * cannot hold one, so an id lookup would fail as a 500). Query strings are
 * checked with the rest of the input, by ValidQuery.
 */
export function requestPathMiddleware(request: Request, response: Response, next: NextFunction): void {
  const no_host = request.httpVersion === '1.1' && !request.headers.host;
  const problem = no_host ? 'An HTTP/1.1 request needs a Host header.' : pathProblem(request.url.split('?', 1)[0] ?? '');
  if (problem === undefined) return next();
  response.status(400).json(ApiError.badRequest(ErrorCode.parameter_invalid, problem).toBody());
}

export function pathProblem(path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 'The request path is not valid percent-encoded UTF-8.';
  }
  if (decoded.includes('\u0000')) return 'The request path must not contain NUL characters.';
  return undefined;
}
