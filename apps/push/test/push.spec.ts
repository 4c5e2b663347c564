import { jest } from '@jest/globals';
import type { PlatformEvent } from '@paynet/contracts';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { WebhookDeliveryObject } from '@paynet/contracts';
import type { FakeMerchant } from './support/fake-services.js';
import { eventually, makeEvent, type PushHarness, startPush } from './support/push-app.js';
import { StreamClient } from './support/stream-client.js';
import { type Behaviour, WebhookReceiver } from '@paynet/testing';

/**
 * push against real PostgreSQL and NATS JetStream; merchants and accounts are
 * fakes answering on push's NATS subjects. Retry delays are scaled by 1e-4,
 * so all eight attempts take about ten seconds.
 */
jest.setTimeout(60_000);

let push: PushHarness;
const receivers: WebhookReceiver[] = [];
const clients: StreamClient[] = [];

beforeAll(async () => {
  push = await startPush({ retry_scale: 0.0001 });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await push?.close();
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

async function receiver(behaviour?: Behaviour): Promise<WebhookReceiver> {
  const started = await WebhookReceiver.start(behaviour);
  receivers.push(started);
  return started;
}

async function stream(token: string): Promise<StreamClient> {
  const client = await StreamClient.open(push.base_url, token);
  clients.push(client);
  return client;
}

/** Any answer of push's HTTP API: a delivery, a list of them, or an error. */
type AnswerBody = Partial<WebhookDeliveryObject> & {
  object?: string;
  data?: WebhookDeliveryObject[];
  has_more?: boolean;
  error?: { type: string; code: string; message: string; param?: string };
};

/** A merchant-signed request; the fake merchants service accepts the key, as the real one would a good signature. */
async function asMerchant(
  merchant: FakeMerchant,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: AnswerBody; headers: Headers }> {
  const response = await fetch(`${push.base_url}${path}`, {
    method,
    headers: {
      'x-api-key': merchant.api_key,
      'x-timestamp': String(Math.floor(Date.now() / 1_000)),
      'x-nonce': randomUUID(),
      'x-signature': 'v1=checked-by-merchants',
      ...headers,
    },
  });
  return { status: response.status, body: (await response.json()) as AnswerBody, headers: response.headers };
}

async function deliveriesOf(merchant: FakeMerchant, event: PlatformEvent): Promise<WebhookDeliveryObject[]> {
  const { status, body } = await asMerchant(merchant, 'GET', `/v1/webhook-deliveries?event=${event.id}`);
  expect(status).toBe(200);
  return body.data ?? [];
}

function verified(merchant: FakeMerchant, request: { headers: Record<string, unknown>; body: string }): unknown {
  return new Webhook(merchant.webhook_secret).verify(request.body, request.headers as Record<string, string>);
}

describe('push: WebSocket stream', () => {
  it('sends a merchant its own events, and none of another merchant', async () => {
    const alice = push.fakes.addMerchant(null);
    const bob = push.fakes.addMerchant(null);
    const alice_client = await stream(alice.stream_token);
    const bob_client = await stream(bob.stream_token);
    const for_alice = makeEvent({ merchant: alice.merchant_id });
    const for_bob = makeEvent({ merchant: bob.merchant_id });
    await push.publish(for_alice);
    await push.publish(for_bob);

    await eventually('bob gets his event', () => bob_client.eventIds().includes(for_bob.id));
    await eventually('alice gets her event', () => alice_client.eventIds().includes(for_alice.id));
    // The fan-out is ordered: bob got the later event, so alice's was already routed (not to him).
    expect(bob_client.eventIds()).toEqual([for_bob.id]);
    expect(alice_client.eventIds()).toEqual([for_alice.id]);
    expect(alice_client.frames[0]).toEqual({ type: 'event', event: for_alice });
  });

  it('sends a holder the events of its account, including balance updates without a merchant', async () => {
    const merchant = push.fakes.addMerchant(null);
    const holder = push.fakes.addHolder();
    const holder_client = await stream(holder.token);
    const merchant_client = await stream(merchant.stream_token);
    const paid = makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'payment_intent.succeeded' });
    const balance = makeEvent({ merchant: null, account: holder.account_id, type: 'account.balance_updated' });
    const someone_else = makeEvent({ merchant: merchant.merchant_id, account: push.fakes.addHolder().account_id, type: 'payment_intent.succeeded' });
    for (const event of [paid, balance, someone_else]) await push.publish(event);

    await eventually('the merchant gets both of its events', () => merchant_client.eventIds().length === 2);
    await eventually('the holder gets two events', () => holder_client.eventIds().length === 2);
    expect(holder_client.eventIds()).toEqual([paid.id, balance.id]);
    expect(merchant_client.eventIds()).toEqual([paid.id, someone_else.id]);
  });

  it('refuses a bad or missing token with 401 and the API error body, before any upgrade', async () => {
    const unknown_stream_token = await StreamClient.refusal(push.base_url, 'st_doesnotexist');
    expect(unknown_stream_token).toEqual({
      status: 401,
      upgraded: false,
      body: { error: { type: 'authentication_error', code: 'invalid_token', message: expect.any(String) } },
    });
    const unknown_account_token = await StreamClient.refusal(push.base_url, 'at_doesnotexist');
    expect(unknown_account_token.status).toBe(401);
    const not_a_token = await StreamClient.refusal(push.base_url, 'hello');
    expect(not_a_token).toMatchObject({ status: 401, upgraded: false, body: { error: { code: 'invalid_token' } } });
    const missing = await StreamClient.refusal(push.base_url, null);
    expect(missing).toMatchObject({ status: 401, upgraded: false, body: { error: { type: 'authentication_error', code: 'authentication_required' } } });
  });

  it('answers a resume after an unknown or foreign event id with one resource_missing frame', async () => {
    const alice = push.fakes.addMerchant(null);
    const bob = push.fakes.addMerchant(null);
    const bobs_event = makeEvent({ merchant: bob.merchant_id });
    await push.publish(bobs_event);
    await eventually('push recorded the event', () => push.consumerIdle());
    const client = await stream(alice.stream_token);
    client.send({ type: 'resume', after: 'evt_unknown000000000' });
    client.send({ type: 'resume', after: bobs_event.id });
    await eventually('two answers', () => client.frames.length === 2);
    for (const frame of client.frames) expect(frame).toMatchObject({ type: 'error', error: { code: 'resource_missing', message: expect.any(String) } });
  });

  it('sends an event published twice (different Nats-Msg-Id) to a client once', async () => {
    const merchant = push.fakes.addMerchant(null);
    const client = await stream(merchant.stream_token);
    const event = makeEvent({ merchant: merchant.merchant_id });
    const marker = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(event);
    await push.publish(event, `${event.id}:again`);
    await push.publish(marker);
    await eventually('the marker arrives', () => client.eventIds().includes(marker.id));
    expect(client.eventIds()).toEqual([event.id, marker.id]);
  });
});

describe('push: webhooks', () => {
  it('POSTs the exact event bytes, signed per Standard Webhooks with the merchant secret', async () => {
    const endpoint = await receiver();
    const merchant = push.fakes.addMerchant(endpoint.url);
    const event = makeEvent({ merchant: merchant.merchant_id, type: 'payment_intent.succeeded' });
    const payload = await push.publish(event);

    const [request] = await eventually('the webhook arrives', () => endpoint.requestsFor(event.id).length === 1 && endpoint.requestsFor(event.id));
    expect(request?.body).toBe(payload);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['webhook-id']).toBe(event.id);
    expect(request?.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(Math.abs(Number(request?.headers['webhook-timestamp']) - Date.now() / 1_000)).toBeLessThan(10);
    expect(verified(merchant, request as never)).toEqual(event);
    expect(() => new Webhook(push.fakes.addMerchant(null).webhook_secret).verify(request?.body ?? '', request?.headers as Record<string, string>)).toThrow();

    const [delivery] = await eventually('the delivery is recorded as succeeded', async () => {
      const deliveries = await deliveriesOf(merchant, event);
      return deliveries[0]?.status === 'succeeded' && deliveries;
    });
    expect(delivery).toEqual({
      id: expect.stringMatching(/^whd_/),
      event: event.id,
      url: endpoint.url,
      status: 'succeeded',
      attempts: 1,
      last_status_code: 200,
      next_attempt_at: null,
    });
  });

  it('retries a failing endpoint on the schedule until it answers 2xx', async () => {
    const endpoint = await receiver((n) => ({ status: n < 2 ? 500 : 204 }));
    const merchant = push.fakes.addMerchant(endpoint.url);
    const event = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(event);

    const [delivery] = await eventually('the third attempt succeeds', async () => {
      const deliveries = await deliveriesOf(merchant, event);
      return deliveries[0]?.status === 'succeeded' && deliveries;
    });
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 3, last_status_code: 204, next_attempt_at: null });
    const requests = endpoint.requestsFor(event.id);
    expect(requests).toHaveLength(3);
    for (const request of requests) expect(verified(merchant, request)).toEqual(event);
    // 5 s then 5 min, scaled by 1e-4: the second retry waits longer than the first.
    const [first_ms = 0, second_ms = 0, third_ms = 0] = requests.map((request) => request.at_ms);
    expect(third_ms - second_ms).toBeGreaterThanOrEqual(25);
    expect(second_ms - first_ms).toBeGreaterThanOrEqual(0);
  });

  it('records a delivery as failed after the eighth failed attempt', async () => {
    const endpoint = await receiver(() => ({ status: 503 }));
    const merchant = push.fakes.addMerchant(endpoint.url);
    const event = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(event);

    const pending = await eventually('a retry is scheduled', async () => {
      const deliveries = await deliveriesOf(merchant, event);
      return deliveries[0]?.status === 'pending' && deliveries[0].attempts >= 1 && deliveries[0];
    });
    expect(pending.next_attempt_at).toEqual(expect.any(Number));
    expect(pending.last_status_code).toBe(503);

    const [failed] = await eventually(
      'the delivery fails for good',
      async () => {
        const deliveries = await deliveriesOf(merchant, event);
        return deliveries[0]?.status === 'failed' && deliveries;
      },
      30_000,
    );
    expect(failed).toMatchObject({ status: 'failed', attempts: 8, last_status_code: 503, next_attempt_at: null });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(endpoint.requestsFor(event.id)).toHaveLength(8);
  });

  it('creates one delivery for an event published twice with different Nats-Msg-Id', async () => {
    const endpoint = await receiver();
    const merchant = push.fakes.addMerchant(endpoint.url);
    const event = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(event);
    await push.publish(event, `${event.id}:republished`);

    await eventually('both messages are processed', () => push.consumerIdle());
    await eventually('the webhook arrives', () => endpoint.requestsFor(event.id).length === 1);
    const deliveries = await deliveriesOf(merchant, event);
    expect(deliveries).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(endpoint.requestsFor(event.id)).toHaveLength(1);
  });

  it('does not let a slow endpoint delay another merchant', async () => {
    const slow = await receiver(() => ({ status: 200, delay_ms: 4_000 }));
    const fast = await receiver();
    const slow_merchant = push.fakes.addMerchant(slow.url);
    const fast_merchant = push.fakes.addMerchant(fast.url);
    const slow_events = Array.from({ length: 10 }, () => makeEvent({ merchant: slow_merchant.merchant_id }));
    for (const event of slow_events) await push.publish(event);
    await eventually('the slow endpoint is busy', () => slow.received.length >= 1);
    const fast_event = makeEvent({ merchant: fast_merchant.merchant_id });
    const published_at = Date.now();
    await push.publish(fast_event);

    const [request] = await eventually('the fast webhook arrives', () => fast.requestsFor(fast_event.id).length === 1 && fast.requestsFor(fast_event.id));
    expect((request?.at_ms ?? Infinity) - published_at).toBeLessThan(2_000);
  });

  it('skips webhooks for a merchant without an endpoint, and for events without a merchant', async () => {
    const merchant = push.fakes.addMerchant(null);
    const event = makeEvent({ merchant: merchant.merchant_id });
    const balance = makeEvent({ merchant: null, account: push.fakes.addHolder().account_id, type: 'account.balance_updated' });
    await push.publish(event);
    await push.publish(balance);
    await eventually('both are processed', () => push.consumerIdle());
    expect(await deliveriesOf(merchant, event)).toEqual([]);
  });
});

describe('push: webhook deliveries API', () => {
  it('lists only the merchant\'s own deliveries, newest first, and redelivers on request', async () => {
    const endpoint = await receiver();
    const merchant = push.fakes.addMerchant(endpoint.url);
    const other = push.fakes.addMerchant(endpoint.url);
    const event = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(event);
    await eventually('the first delivery succeeds', async () => (await deliveriesOf(merchant, event))[0]?.status === 'succeeded');

    expect(await deliveriesOf(other, event)).toEqual([]);
    const foreign = await asMerchant(other, 'POST', `/v1/events/${event.id}/redeliver`);
    expect(foreign).toMatchObject({ status: 404, body: { error: { type: 'invalid_request_error', code: 'resource_missing', message: expect.any(String) } } });
    const unknown = await asMerchant(merchant, 'POST', '/v1/events/evt_doesnotexist000/redeliver');
    expect(unknown.status).toBe(404);

    const key = { 'idempotency-key': randomUUID() };
    const redelivered = await asMerchant(merchant, 'POST', `/v1/events/${event.id}/redeliver`, key);
    expect(redelivered.status).toBe(202);
    expect(redelivered.body).toMatchObject({ object: 'list', data: [{ event: event.id, url: endpoint.url, status: 'pending', attempts: 0, last_status_code: null }] });
    const replayed = await asMerchant(merchant, 'POST', `/v1/events/${event.id}/redeliver`, key);
    expect(replayed).toMatchObject({ status: 202, body: redelivered.body });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    await eventually('the redelivery arrives', () => endpoint.requestsFor(event.id).length === 2);
    const deliveries = await eventually('both deliveries succeeded', async () => {
      const list = await deliveriesOf(merchant, event);
      return list.length === 2 && list.every((delivery) => delivery.status === 'succeeded') && list;
    });
    expect(deliveries[0]?.id).toBe(redelivered.body.data?.[0]?.id);

    const page = await asMerchant(merchant, 'GET', '/v1/webhook-deliveries?limit=1');
    expect(page.body).toMatchObject({ object: 'list', has_more: true, data: [{ id: redelivered.body.data?.[0]?.id }] });
    const next = await asMerchant(merchant, 'GET', `/v1/webhook-deliveries?limit=1&starting_after=${redelivered.body.data?.[0]?.id}`);
    expect(next.body).toMatchObject({ object: 'list', has_more: false, data: [{ id: deliveries[1]?.id }] });
  });

  it('refuses bad input with 400 and unsigned requests with 401', async () => {
    const merchant = push.fakes.addMerchant(null);
    expect((await asMerchant(merchant, 'GET', '/v1/webhook-deliveries?event=pi_123')).body.error).toMatchObject({ code: 'parameter_invalid', param: 'event' });
    expect((await asMerchant(merchant, 'GET', '/v1/webhook-deliveries?colour=red')).body.error).toMatchObject({ code: 'unknown_parameter' });
    expect((await asMerchant(merchant, 'GET', '/v1/webhook-deliveries?limit=101')).status).toBe(400);
    expect((await fetch(`${push.base_url}/v1/webhook-deliveries`)).status).toBe(401);
  });
});
