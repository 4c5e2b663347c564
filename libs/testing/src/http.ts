import type { ServiceName } from '@paynet/devstack';

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface FetchResult<T> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the answer is JSON, else the text ('' when empty). */
  body: T;
}

export interface JsonFetchOptions {
  method?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is (to test exact bytes or bad JSON). */
  body?: unknown;
  timeout_ms?: number;
}

const request_timeout_ms = 10_000;

/** fetch with a bound, a JSON body and a parsed answer. */
export async function jsonFetch<T = JsonObject>(url: string, options: JsonFetchOptions = {}): Promise<FetchResult<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers,
    body: payload,
    signal: AbortSignal.timeout(options.timeout_ms ?? request_timeout_ms),
  });
  const text = await response.text();
  const is_json = (response.headers.get('content-type') ?? '').includes('json') && text.length > 0;
  return { status: response.status, headers: response.headers, body: (is_json ? JSON.parse(text) : text) as T };
}

export interface AdminFetchOptions {
  idempotencyKey?: string;
  headers?: Record<string, string>;
  timeout_ms?: number;
}

/** A request as the operator (Bearer ADMIN_TOKEN) to one service of a stack. */
export function adminFetch<T = JsonObject>(
  stack: { urls: Readonly<Partial<Record<ServiceName, string>>>; adminToken: string },
  service: ServiceName,
  method: string,
  path: string,
  body?: unknown,
  options: AdminFetchOptions = {},
): Promise<FetchResult<T>> {
  const headers: Record<string, string> = { authorization: `Bearer ${stack.adminToken}`, ...options.headers };
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  const base = stack.urls[service];
  if (base === undefined) throw new Error(`${service} is not running in this stack`);
  return jsonFetch<T>(`${base}${path}`, { method, headers, body, timeout_ms: options.timeout_ms });
}
