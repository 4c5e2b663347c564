import { signRequest } from '@paynet/signatures';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { FuzzCase } from './cases.js';

export interface Credentials {
  admin_token: string;
  holder_token: string;
  api_key: string;
  api_secret: string;
}

export interface Answer {
  status: number;
  content_type: string;
  text: string;
}

const request_timeout_ms = 30_000;

/** The case's headers with its principal's credentials, spoiled as the case says. */
export function withCredentials(fuzz: FuzzCase, credentials: Credentials): [string, string][] {
  const headers = [...fuzz.headers];
  const fault = fuzz.auth_fault;
  if (fuzz.auth === 'none' || fault === 'missing') return headers;
  if (fault === 'junk_bearer') return [...headers, ['authorization', 'Bearer at_not-a-real-token-\u00e9']];
  if (fault === 'other_scheme') return [...headers, ['authorization', `Basic ${Buffer.from(`x:${credentials.admin_token}`).toString('base64')}`]];
  if (fuzz.auth === 'bearer') {
    const token = fuzz.bearer === 'operator' ? credentials.admin_token : credentials.holder_token;
    // Node keeps the first of two Authorization headers: a junk one first must be what counts.
    if (fault === 'junk_first_of_two_authorizations') return [...headers, ['authorization', 'Bearer junk'], ['authorization', `Bearer ${token}`]];
    return [...headers, ['authorization', `Bearer ${token}`]];
  }
  const timestamp = fault === 'stale_timestamp' ? String(Math.floor(Date.now() / 1000) - 3_600) : fault === 'bad_timestamp' ? '17e8' : String(Math.floor(Date.now() / 1000));
  const nonce = fault === 'bad_nonce' ? 'short!' : randomUUID();
  let signature = signRequest({ secret: credentials.api_secret, timestamp, nonce, method: fuzz.method, path_with_query: fuzz.path, body: fuzz.body ?? Buffer.alloc(0) });
  if (fault === 'broken_signature') signature = `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;
  const signed: [string, string][] = [
    ['x-api-key', fault === 'unknown_key' ? 'mk_ZZZZZZZZZZZZZZZZZZZZZZZZ' : credentials.api_key],
    ['x-timestamp', timestamp],
    ['x-nonce', nonce],
    ['x-signature', signature],
  ];
  if (fault === 'two_api_keys') signed.unshift(['x-api-key', 'mk_junk']);
  if (fault === 'missing_signature_header') signed.splice(1 + (nonce.length % 3), 1);
  return [...headers, ...signed];
}

/** One raw HTTP/1.1 request: headers exactly as given (duplicates too), body bytes as given. */
export function send(base_url: string, fuzz: FuzzCase, headers: [string, string][]): Promise<Answer> {
  const url = new URL(base_url);
  // Given headers as a list, Node sends exactly those: Host too must be named.
  const raw = [['host', url.host], ...headers].flat();
  if (fuzz.body !== undefined) raw.push('content-length', String(fuzz.body.length));
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, method: fuzz.method, path: fuzz.path, headers: raw, timeout: request_timeout_ms }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, content_type: String(response.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer in ${request_timeout_ms} ms`)));
    request.on('error', reject);
    request.end(fuzz.body);
  });
}
