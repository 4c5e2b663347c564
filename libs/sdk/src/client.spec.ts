import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RequestVerification, verifyRequest } from '@paynet/signatures';
import { PaynetClient, request_attempts_max, serviceFor } from './client.js';
import { PaynetError } from './errors.js';

const api_key = 'mk_test_0123456789';
const api_secret = 'sk_test_secret_for_the_sdk';

interface Received {
  service: string;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  verification: RequestVerification;
}

/** What the test server does with the n-th request: answer, or cut the connection. */
type Reply = { status: number; body?: unknown } | 'disconnect' | 'hang';

interface TestService {
  name: string;
  server: Server;
  url: string;
}

const received: Received[] = [];
let replies: Reply[] = [];

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Checks every request as a Paynet service would, over the exact raw bytes received. */
async function handle(name: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const verification = verifyRequest({
    secret: api_secret,
    timestamp: header(request, 'x-timestamp'),
    nonce: header(request, 'x-nonce'),
    method: request.method ?? '',
    path_with_query: request.url ?? '',
    body,
    signature_header: header(request, 'x-signature'),
    now_seconds: Math.floor(Date.now() / 1000),
  });
  received.push({ service: name, method: request.method ?? '', url: request.url ?? '', headers: request.headers, body, verification });
  const reply = replies.shift() ?? { status: 200, body: { ok: true } };
  if (reply === 'disconnect') return void request.socket.destroy();
  if (reply === 'hang') return;
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  response.writeHead(reply.status, { 'content-type': 'application/json' }).end(text);
}

async function startService(name: string): Promise<TestService> {
  const server = createServer((request, response) => void handle(name, request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let services: TestService[] = [];
let client: PaynetClient;

beforeAll(async () => {
  services = await Promise.all(['merchants', 'payments', 'push'].map(startService));
  const [merchants, payments, push] = services.map((service) => service.url) as [string, string, string];
  client = new PaynetClient({ apiKey: api_key, apiSecret: api_secret, urls: { merchants, payments, push: `${push}/` }, retryBackoffMs: 5, timeoutMs: 500 });
});

afterAll(async () => {
  for (const { server } of services) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

beforeEach(() => {
  received.length = 0;
  replies = [];
});

const intent_params = { amount: 1234, currency: 'USD', reference: 'order-42', description: 'Café crème ☕' };

describe('signed requests', () => {
  it('signs exactly the bytes it sends, with the API key, a fresh nonce and the current time', async () => {
    const response = await client.request('POST', '/v1/payment-intents', intent_params, { idempotencyKey: 'key-1' });
    expect(response.status).toBe(200);
    expect(received).toHaveLength(1);
    const [request] = received as [Received];
    expect(request.verification).toEqual({ ok: true });
    expect(JSON.parse(request.body.toString('utf8'))).toEqual(intent_params);
    expect(request.headers['x-api-key']).toBe(api_key);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['idempotency-key']).toBe('key-1');
    expect(Math.abs(Number(request.headers['x-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('signs a GET with an empty body and the query exactly as sent', async () => {
    await client.request('GET', '/v1/payment-intents?limit=5&status=succeeded');
    const [request] = received as [Received];
    expect(request.verification).toEqual({ ok: true });
    expect(request.url).toBe('/v1/payment-intents?limit=5&status=succeeded');
    expect(request.body).toHaveLength(0);
    expect(request.headers['content-type']).toBeUndefined();
    expect(request.headers['idempotency-key']).toBeUndefined();
  });

  it('never reuses a nonce, even for identical requests in the same second', async () => {
    await Promise.all([client.getMerchant('mer_1'), client.getMerchant('mer_1'), client.getMerchant('mer_1')]);
    expect(new Set(received.map((request) => request.headers['x-nonce'])).size).toBe(3);
    expect(received.every((request) => request.verification.ok)).toBe(true);
  });

  it('sends each path to the service that owns it', async () => {
    await client.getMerchantBalance('mer_1');
    await client.retrievePaymentIntent('pi_1');
    await client.listWebhookDeliveries('evt_1');
    replies = [{ status: 202 }];
    await client.redeliverEvent('evt_1');
    expect(received.map((request) => [request.service, request.url])).toEqual([
      ['merchants', '/v1/merchants/mer_1/balance'],
      ['payments', '/v1/payment-intents/pi_1'],
      ['push', '/v1/webhook-deliveries?event=evt_1'],
      ['push', '/v1/events/evt_1/redeliver'],
    ]);
    expect(serviceFor('/v1/merchants')).toBe('merchants');
    expect(serviceFor('/v1/webhook-endpoints/we_1/rotate-secret')).toBe('merchants');
    expect(() => serviceFor('/v1/merchantsfoo')).toThrow(/no Paynet service/);
    await expect(client.request('GET', '/v1/accounts/acct_1')).rejects.toThrow(/no Paynet service/);
  });
});

describe('retries', () => {
  it('retries a request with an idempotency key on 5xx, with a new nonce and signature and the same key', async () => {
    replies = [{ status: 503 }, { status: 500, body: { error: { type: 'api_error', code: 'internal_error', message: 'x' } } }];
    const response = await client.request('POST', '/v1/payment-intents', intent_params, { idempotencyKey: 'key-retry' });
    expect(response.status).toBe(200);
    expect(received).toHaveLength(3);
    expect(received.every((request) => request.verification.ok)).toBe(true);
    expect(new Set(received.map((request) => request.headers['x-nonce'])).size).toBe(3);
    expect(new Set(received.map((request) => request.headers['x-signature'])).size).toBe(3);
    expect(received.map((request) => request.headers['idempotency-key'])).toEqual(['key-retry', 'key-retry', 'key-retry']);
    expect(new Set(received.map((request) => request.body.toString('hex'))).size).toBe(1);
  });

  it('retries a GET after a dropped connection and a 429', async () => {
    replies = ['disconnect', { status: 429 }];
    const merchant = await client.getMerchant('mer_1');
    expect(merchant).toEqual({ ok: true });
    expect(received).toHaveLength(3);
  });

  it('retries a request that timed out, when it has an idempotency key', async () => {
    replies = ['hang'];
    const response = await client.request('POST', '/v1/payment-intents', intent_params, { idempotencyKey: 'key-slow' });
    expect(response.status).toBe(200);
    expect(received.map((request) => request.headers['idempotency-key'])).toEqual(['key-slow', 'key-slow']);
  });

  it(`gives up after ${request_attempts_max} attempts and reports the last answer`, async () => {
    replies = [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 200 }];
    const response = await client.request('GET', '/v1/merchants/mer_1');
    expect(response.status).toBe(503);
    expect(received).toHaveLength(request_attempts_max);
    replies = ['disconnect', 'disconnect', 'disconnect'];
    await expect(client.getMerchant('mer_1')).rejects.toThrow();
  });

  it('never retries a POST without an idempotency key, whose outcome would be unknown', async () => {
    replies = [{ status: 503 }];
    expect((await client.request('POST', '/v1/merchants/mer_1/stream-tokens')).status).toBe(503);
    replies = ['disconnect'];
    await expect(client.createStreamToken('mer_1')).rejects.toThrow();
    expect(received).toHaveLength(2);
  });

  it('does not retry a 4xx answer', async () => {
    replies = [{ status: 409, body: { error: { type: 'idempotency_error', code: 'idempotency_request_in_progress', message: 'busy' } } }];
    await expect(client.createPaymentIntent(intent_params, { idempotencyKey: 'k' })).rejects.toBeInstanceOf(PaynetError);
    expect(received).toHaveLength(1);
  });
});

describe('typed helpers', () => {
  it('creates a payment intent with a fresh idempotency key when none is given', async () => {
    await client.createPaymentIntent(intent_params);
    await client.createPaymentIntent(intent_params);
    await client.createPaymentIntent(intent_params, { idempotencyKey: 'mine' });
    const keys = received.map((request) => request.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(keys[2]).toBe('mine');
  });

  it('captures, cancels and refunds with a fresh idempotency key each time, or the one given', async () => {
    await client.capturePaymentIntent('pi_1', { amount: 600 });
    await client.capturePaymentIntent('pi_1');
    await client.cancelPaymentIntent('pi_2');
    await client.createRefund('pi_3', { amount: 50, reason: 'requested_by_customer' });
    await client.createRefund('pi_3', {}, { idempotencyKey: 'refund-mine' });
    const keys = received.map((request) => request.headers['idempotency-key']);
    expect(keys.slice(0, 4).every((key) => typeof key === 'string' && /^[0-9a-f-]{36}$/.test(key))).toBe(true);
    expect(new Set(keys.slice(0, 4)).size).toBe(4);
    expect(keys[4]).toBe('refund-mine');
    expect(received.map((request) => request.body.toString('utf8'))).toEqual([
      '{"amount":600}',
      '{}',
      '',
      '{"amount":50,"reason":"requested_by_customer"}',
      '{}',
    ]);
    expect(received.every((request) => request.verification.ok)).toBe(true);
  });

  it('answers a refund as the API returns it, and a refused one as a PaynetError', async () => {
    const refund = { id: 're_1', object: 'refund', amount: 50, payment_intent: 'pi_3', status: 'succeeded', created: 1_732_300_000 };
    replies = [{ status: 201, body: refund }];
    expect(await client.createRefund('pi_3', { amount: 50 })).toEqual(refund);
    replies = [{ status: 402, body: { error: { type: 'payment_error', code: 'insufficient_funds', message: 'Not enough' } } }];
    await expect(client.createRefund('pi_3', { amount: 5_000 })).rejects.toMatchObject({ status: 402, code: 'insufficient_funds' });
    replies = [{ status: 409, body: { error: { type: 'invalid_request_error', code: 'payment_intent_unexpected_state', message: 'paid' } } }];
    await expect(client.cancelPaymentIntent('pi_3')).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });
  });

  it('throws a PaynetError carrying the API error envelope', async () => {
    const envelope = { error: { type: 'payment_error', code: 'insufficient_funds', message: 'Not enough money', param: 'amount' } };
    replies = [{ status: 402, body: envelope }];
    const error = await client.retrievePaymentIntent('pi_1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PaynetError);
    expect(error).toMatchObject({ status: 402, type: 'payment_error', code: 'insufficient_funds', message: 'Not enough money', param: 'amount' });
  });

  it('classifies an answer without an error envelope by its status', async () => {
    replies = [{ status: 404, body: 'not json at all' }];
    await expect(client.getMerchant('mer_x')).rejects.toMatchObject({ status: 404, type: 'invalid_request_error', code: 'unexpected_response' });
  });

  it('escapes ids and builds list queries', async () => {
    await client.retrievePaymentIntent('pi_1/../../x');
    await client.listPaymentIntents({ limit: 5, status: 'succeeded' });
    await client.capturePaymentIntent('pi_2', { amount: 100 });
    await client.createRefund('pi_2', { amount: 50 });
    await client.cancelPaymentIntent('pi_3');
    expect(received.map((request) => `${request.method} ${request.url}`)).toEqual([
      'GET /v1/payment-intents/pi_1%2F..%2F..%2Fx',
      'GET /v1/payment-intents?limit=5&status=succeeded',
      'POST /v1/payment-intents/pi_2/capture',
      'POST /v1/payment-intents/pi_2/refunds',
      'POST /v1/payment-intents/pi_3/cancel',
    ]);
    expect(received.slice(2).every((request) => typeof request.headers['idempotency-key'] === 'string')).toBe(true);
    expect(received.every((request) => request.verification.ok)).toBe(true);
  });
});
