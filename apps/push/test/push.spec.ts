import { jest } from '@jest/globals';
import { IdPrefix, newId, type PlatformEvent, type WebhookDeliveryObject } from '@paynet/contracts';
import { type Behaviour, waitFor, WebhookReceiver } from '@paynet/testing';
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { FakeMerchant } from './support/fake-services.js';
import { webhook_timeout_ms } from '../src/webhooks/webhook-sender.js';
import { makeEvent, usePush } from './support/push-app.js';
import { type AnswerBody, asMerchant as signedAs } from './support/requests.js';

/**
 * push's webhooks against real PostgreSQL and NATS JetStream; merchants and
 * accounts are fakes answering on push's NATS subjects. Retry delays are
 * scaled by 1e-4, so all eight attempts take about ten seconds.
 */
jest.setTimeout(60_000);
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 15_000;

const push = usePush();
const receivers: WebhookReceiver[] = [];

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

async function receiver(behaviour?: Behaviour): Promise<WebhookReceiver> {
  const started = await WebhookReceiver.start(behaviour);
  receivers.push(started);
  return started;
}

type DeliveryAnswer = Partial<WebhookDeliveryObject> & Omit<AnswerBody, 'data'> & { data?: WebhookDeliveryObject[] };

function asMerchant(merchant: FakeMerchant, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}) {
  return signedAs<DeliveryAnswer>(push.base_url, merchant, method, path, headers);
}

async function deliveriesOf(merchant: FakeMerchant, event: PlatformEvent): Promise<WebhookDeliveryObject[]> {
  const { status, body } = await asMerchant(merchant, 'GET', `/v1/webhook-deliveries?event=${event.id}`);
  expect(status).toBe(200);
  return body.data ?? [];
}

function verified(merchant: FakeMerchant, request: { headers: Record<string, unknown>; body: string }): unknown {
  return new Webhook(merchant.webhook_secret).verify(request.body, request.headers as Record<string, string>);
}

describe('push: webhooks', () => {
  it('POSTs the exact event bytes, signed per Standard Webhooks with the merchant secret', async () => {
    const endpoint = await receiver();
    const merchant = push.fakes.addMerchant(endpoint.url);
    const event = makeEvent({ merchant: merchant.merchant_id, type: 'payment_intent.succeeded' });
    const payload = await push.publish(event);

    const [request] = await waitFor(() => endpoint.requestsFor(event.id).length === 1 && endpoint.requestsFor(event.id), { description: 'the webhook arrives', timeout_ms });
    expect(request?.body).toBe(payload);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['webhook-id']).toBe(event.id);
    expect(request?.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(Math.abs(Number(request?.headers['webhook-timestamp']) - Date.now() / 1_000)).toBeLessThan(10);
    expect(verified(merchant, request as never)).toEqual(event);
    expect(() => new Webhook(push.fakes.addMerchant(null).webhook_secret).verify(request?.body ?? '', request?.headers as Record<string, string>)).toThrow();

    const [delivery] = await waitFor(async () => {
      const deliveries = await deliveriesOf(merchant, event);
      return deliveries[0]?.status === 'succeeded' && deliveries;
    }, { description: 'the delivery is recorded as succeeded', timeout_ms });
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

    const [delivery] = await waitFor(async () => {
      const deliveries = await deliveriesOf(merchant, event);
      return deliveries[0]?.status === 'succeeded' && deliveries;
    }, { description: 'the third attempt succeeds', timeout_ms });
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

    const pending = await waitFor(async () => {
      const deliveries = await deliveriesOf(merchant, event);
      return deliveries[0]?.status === 'pending' && deliveries[0].attempts >= 1 && deliveries[0];
    }, { description: 'a retry is scheduled', timeout_ms });
    expect(pending.next_attempt_at).toEqual(expect.any(Number));
    expect(pending.last_status_code).toBe(503);

    const [failed] = await waitFor(async () => {
        const deliveries = await deliveriesOf(merchant, event);
        return deliveries[0]?.status === 'failed' && deliveries;
      }, { description: 'the delivery fails for good', timeout_ms: 30_000 });
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

    await waitFor(() => push.consumerIdle(), { description: 'both messages are processed', timeout_ms });
    await waitFor(() => endpoint.requestsFor(event.id).length === 1, { description: 'the webhook arrives', timeout_ms });
    const deliveries = await deliveriesOf(merchant, event);
    expect(deliveries).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(endpoint.requestsFor(event.id)).toHaveLength(1);
  });

  it('does not let a slow endpoint delay another merchant', async () => {
    const slow = await receiver(() => ({ status: 200, hold: true }));
    const fast = await receiver();
    const slow_merchant = push.fakes.addMerchant(slow.url);
    const fast_merchant = push.fakes.addMerchant(fast.url);
    const slow_events = Array.from({ length: 10 }, () => makeEvent({ merchant: slow_merchant.merchant_id }));
    for (const event of slow_events) await push.publish(event);
    await waitFor(() => slow.holding >= 1, { description: 'the slow endpoint is busy', timeout_ms });
    const fast_event = makeEvent({ merchant: fast_merchant.merchant_id });
    await push.publish(fast_event);

    // Causal, not a stopwatch: the slow endpoint has answered nothing yet, and any design that
    // made the fast webhook wait for a slow attempt would wait at least push's 15 s timeout.
    await waitFor(() => fast.requestsFor(fast_event.id).length === 1, { description: 'the fast webhook arrives', timeout_ms: webhook_timeout_ms });
    expect(slow.holding).toBeGreaterThanOrEqual(1);
    expect(slow.received.length).toBe(slow.holding);
    slow.release();
  });

  it('records a burst of events from several merchants once each, and delivers each webhook once, signed', async () => {
    const endpoints = [await receiver(), await receiver(), await receiver()];
    const merchants = endpoints.map((endpoint) => push.fakes.addMerchant(endpoint.url));
    const events = merchants.flatMap((merchant) => Array.from({ length: 20 }, () => makeEvent({ merchant: merchant.merchant_id })));
    // Published together, so the consumer's pulls bring many at once; one is published twice.
    await Promise.all([...events.map((event) => push.publish(event)), push.publish(events[0] as PlatformEvent, `${events[0]?.id}:again`)]);

    await waitFor(() => endpoints.every((endpoint) => endpoint.received.length >= 20), { description: 'every webhook arrives', timeout_ms });
    await waitFor(() => push.consumerIdle(), { description: 'every message is processed', timeout_ms });
    merchants.forEach((merchant, index) => {
      const endpoint = endpoints[index] as WebhookReceiver;
      const mine = events.filter((event) => event.merchant === merchant.merchant_id);
      for (const event of mine) {
        const requests = endpoint.requestsFor(event.id);
        expect({ event: event.id, requests: requests.length }).toEqual({ event: event.id, requests: 1 });
        expect(verified(merchant, requests[0] as never)).toEqual(event);
      }
      expect(endpoint.received).toHaveLength(mine.length);
    });
    const [first] = await waitFor(async () => {
      const deliveries = await deliveriesOf(merchants[0] as FakeMerchant, events[0] as PlatformEvent);
      return deliveries[0]?.status === 'succeeded' && deliveries;
    }, { description: 'the delivery is recorded as succeeded', timeout_ms });
    expect(first).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200 });
    // 20 events of one merchant in a batch pass its 8 slots: some deliveries were made claimed, the rest left for the claim
    // loop; either way every event has its one delivery, each with its event, and every outcome gets recorded.
    const stored: { rows: { event_id: string; status: string; attempts: number; has_event: boolean }[] } = await push.database.query(
      `SELECT d.event_id, d.status, d.attempts, EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id) AS has_event
       FROM webhook_deliveries d WHERE d.event_id = ANY($1::text[])`,
      [events.map((event) => event.id)],
    );
    expect(stored.rows.map((row) => row.event_id).sort()).toEqual(events.map((event) => event.id).sort());
    expect(stored.rows.every((row) => row.has_event)).toBe(true);
    await waitFor(async () => {
      const { rows } = await push.database.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE event_id = ANY($1::text[]) AND status = 'succeeded' AND attempts = 1`, [events.map((event) => event.id)]);
      return rows[0]?.n === events.length;
    }, { description: "every delivery's outcome is recorded", timeout_ms });
  });

  it('records an attempt\'s outcome in the transaction that records the next events, while events keep coming', async () => {
    const endpoint = await receiver();
    const merchant = push.fakes.addMerchant(endpoint.url);
    const event = makeEvent({ merchant: merchant.merchant_id, type: 'payment_intent.succeeded' });
    await push.publish(event);
    await waitFor(() => endpoint.requestsFor(event.id).length === 1, { description: 'the webhook arrives', timeout_ms });
    // A holder's events (no webhooks of their own) keep coming until the outcome is recorded.
    const followers: string[] = [];
    const recorded = await waitFor(async () => {
      const follower = makeEvent({ merchant: null, account: newId(IdPrefix.account) });
      followers.push(follower.id);
      await push.publish(follower);
      const { rows } = await push.database.query(
        `SELECT d.status, EXISTS (SELECT 1 FROM events e WHERE e.id = ANY($2::text[]) AND e.received_at = d.updated_at) AS with_events
         FROM webhook_deliveries d WHERE d.event_id = $1 AND d.status <> 'pending'`,
        [event.id, followers],
      );
      return rows[0] as { status: string; with_events: boolean } | undefined;
    }, { description: 'the outcome is recorded', timeout_ms, interval_ms: 20 });
    // The same now(): the statement that stored a follower recorded the outcome; no transaction of its own.
    expect(recorded).toEqual({ status: 'succeeded', with_events: true });
  });

  it("delivers to an endpoint added after push had cached the merchant's endpoints (merchants' change broadcast drops them)", async () => {
    const merchant = push.fakes.addMerchant(null);
    const before = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(before);
    await waitFor(() => push.consumerIdle(), { description: 'the event is recorded, with no endpoint', timeout_ms });
    expect(await deliveriesOf(merchant, before)).toEqual([]);

    const endpoint = await receiver();
    await push.fakes.setWebhookUrl(merchant, endpoint.url);
    const after = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(after);
    await waitFor(() => endpoint.requestsFor(after.id).length === 1, { description: 'the webhook goes to the new endpoint', timeout_ms });
    expect(endpoint.requestsFor(before.id)).toEqual([]);
  });

  it('skips webhooks for a merchant without an endpoint, and for events without a merchant', async () => {
    const merchant = push.fakes.addMerchant(null);
    const event = makeEvent({ merchant: merchant.merchant_id });
    const balance = makeEvent({ merchant: null, account: push.fakes.addHolder().account_id, type: 'account.balance_updated' });
    await push.publish(event);
    await push.publish(balance);
    await waitFor(() => push.consumerIdle(), { description: 'both are processed', timeout_ms });
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
    await waitFor(async () => (await deliveriesOf(merchant, event))[0]?.status === 'succeeded', { description: 'the first delivery succeeds', timeout_ms });

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
    await waitFor(() => endpoint.requestsFor(event.id).length === 2, { description: 'the redelivery arrives', timeout_ms });
    const deliveries = await waitFor(async () => {
      const list = await deliveriesOf(merchant, event);
      return list.length === 2 && list.every((delivery) => delivery.status === 'succeeded') && list;
    }, { description: 'both deliveries succeeded', timeout_ms });
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
