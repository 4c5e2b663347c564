import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminFetch, jsonFetch } from './http.js';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  idempotency_key?: string;
  content_type?: string;
  body: string;
}

describe('adminFetch', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        if (request.url === '/text') {
          response.end('plain');
          return;
        }
        const seen: Seen = {
          method: request.method ?? '',
          url: request.url ?? '',
          authorization: request.headers.authorization,
          idempotency_key: request.headers['idempotency-key'] as string | undefined,
          content_type: request.headers['content-type'],
          body,
        };
        response.writeHead(201, { 'content-type': 'application/json', 'idempotent-replayed': 'true' });
        response.end(JSON.stringify(seen));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const stack = () => ({ urls: { accounts: base, merchants: base, payments: base, push: base }, adminToken: 'operator-token-123456' });

  it('sends the operator token, the idempotency key and a JSON body; parses the JSON answer', async () => {
    const result = await adminFetch<Seen>(stack(), 'accounts', 'POST', '/v1/accounts/acct_1/deposits', { amount: 100 }, { idempotencyKey: 'k1' });
    expect(result.status).toBe(201);
    expect(result.headers.get('idempotent-replayed')).toBe('true');
    expect(result.body).toEqual({
      method: 'POST',
      url: '/v1/accounts/acct_1/deposits',
      authorization: 'Bearer operator-token-123456',
      idempotency_key: 'k1',
      content_type: 'application/json',
      body: '{"amount":100}',
    });
  });

  it('sends a string body byte for byte, and no body on GET', async () => {
    const sent = await adminFetch<Seen>(stack(), 'push', 'POST', '/x', '{"amount":1.5,');
    expect(sent.body.body).toBe('{"amount":1.5,');
    const got = await adminFetch<Seen>(stack(), 'push', 'GET', '/y');
    expect(got.body).toMatchObject({ method: 'GET', body: '' });
    expect(got.body.content_type).toBeUndefined();
  });

  it('returns text when the answer is not JSON', async () => {
    expect((await jsonFetch<string>(`${base}/text`)).body).toBe('plain');
  });
});
