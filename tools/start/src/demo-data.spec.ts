import { signRequest } from '@paynet/signatures';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DemoDataError, ensureDemoData, readDemoFile, type DemoTarget } from './demo-data.js';

const admin_token = 'operator-token-0123456789';
const merchant = { id: 'mer_demo1', api_key: 'mk_demo1', api_secret: 'sk_demo1', webhook_secret: 'whsec_demo1' };

/** The part of accounts and merchants the demo data uses, with switches for failures. */
class FakeApi {
  readonly calls: string[] = [];
  readonly holders = new Set<string>();
  readonly merchants = new Set<string>();
  deposit_keys: string[] = [];
  merchants_failing = false;
  hanging = false;
  private server!: Server;
  private holder_count = 0;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => this.handle(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    if (this.hanging) return;
    const route = `${request.method} ${request.url}`;
    this.calls.push(route);
    const answer = (status: number, body: object) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const operator = request.headers.authorization === `Bearer ${admin_token}`;
    if (route === 'POST /v1/accounts' && operator) {
      const id = `acct_demo${++this.holder_count}`;
      this.holders.add(id);
      return answer(201, { id, object: 'account', token: `at_${id}` });
    }
    if (request.method === 'POST' && request.url?.endsWith('/deposits') && operator) {
      this.deposit_keys.push(String(request.headers['idempotency-key']));
      return answer(201, { object: 'transaction' });
    }
    if (request.method === 'GET' && request.url?.startsWith('/v1/accounts/') && operator) {
      return this.holders.has(request.url.slice('/v1/accounts/'.length)) ? answer(200, {}) : answer(404, { error: { code: 'resource_missing' } });
    }
    if (this.merchants_failing) return answer(500, { error: { type: 'api_error', code: 'internal_error', message: 'boom' } });
    if (route === 'POST /v1/merchants' && operator) {
      this.merchants.add(merchant.id);
      return answer(201, { ...merchant, object: 'merchant' });
    }
    if (route === `GET /v1/merchants/${merchant.id}`) {
      const { 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': signature } = request.headers as Record<string, string>;
      const expected = signRequest({ secret: merchant.api_secret, timestamp, nonce, method: 'GET', path_with_query: request.url ?? '' });
      const known = this.merchants.has(merchant.id) && request.headers['x-api-key'] === merchant.api_key && signature === expected;
      return known ? answer(200, {}) : answer(401, { error: { code: 'invalid_signature' } });
    }
    answer(404, { error: { code: 'resource_missing' } });
  }
}

describe('ensureDemoData', () => {
  let folder: string;
  let api: FakeApi;
  let target: DemoTarget;
  beforeEach(async () => {
    folder = mkdtempSync(join(tmpdir(), 'start-demo-'));
    api = new FakeApi();
    await api.start();
    target = { accountsUrl: api.url, merchantsUrl: api.url, adminToken: admin_token, file: join(folder, 'demo.json'), timeout_ms: 2_000 };
  });
  afterEach(async () => {
    await api.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('creates a funded holder and a merchant as the operator, and saves them privately', async () => {
    const demo = await ensureDemoData(target);
    expect(demo).toEqual({ holder: { id: 'acct_demo1', token: 'at_acct_demo1' }, merchant, reused: { holder: false, merchant: false } });
    expect(api.deposit_keys).toEqual(['demo-deposit-acct_demo1']);
    expect(readDemoFile(target.file)).toEqual({ holder: demo.holder, merchant });
    expect(statSync(target.file).mode & 0o777).toBe(0o600);
  });

  it('reuses saved credentials the services still know, creating and funding nothing', async () => {
    await ensureDemoData(target);
    api.calls.length = 0;
    const again = await ensureDemoData(target);
    expect(again.reused).toEqual({ holder: true, merchant: true });
    expect(api.calls).toEqual(['GET /v1/accounts/acct_demo1', `GET /v1/merchants/${merchant.id}`]);
    expect(api.deposit_keys).toHaveLength(1);
  });

  it('makes a new holder when the saved one is unknown (a new database)', async () => {
    await ensureDemoData(target);
    api.holders.clear();
    const again = await ensureDemoData(target);
    expect(again.holder.id).toBe('acct_demo2');
    expect(again.reused).toEqual({ holder: false, merchant: true });
    expect(JSON.parse(readFileSync(target.file, 'utf8')).holder.id).toBe('acct_demo2');
  });

  it('fails with a clear message naming the call, keeping what was already made', async () => {
    api.merchants_failing = true;
    await expect(ensureDemoData(target)).rejects.toThrow(new DemoDataError('POST merchants /v1/merchants answered 500: internal_error boom'));
    expect(readDemoFile(target.file).holder?.id).toBe('acct_demo1');
  });

  it('fails, rather than hang, when a service does not answer', async () => {
    api.hanging = true;
    // The hanging server never answers: only the request's own timeout can end this before Jest's.
    await expect(ensureDemoData({ ...target, timeout_ms: 300 })).rejects.toThrow(/POST .*\/v1\/accounts failed: .*timeout/);
  });
});
