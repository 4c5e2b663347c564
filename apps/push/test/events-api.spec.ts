import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { PlatformEvent } from '@paynet/contracts';
import { jsonFetch, waitFor, WebhookReceiver } from '@paynet/testing';
import { DataSource } from 'typeorm';
import { insertDeliveries } from '../src/webhooks/webhook-deliveries.repository.js';
import type { FakeMerchant } from './support/fake-services.js';
import { makeEvent, usePush } from './support/push-app.js';
import { type Answer, asHolder, asMerchant } from './support/requests.js';

/**
 * GET /v1/events and /v1/events/{id} (API.md, Events) as merchants and
 * holders read them, and retention: events older than EVENT_RETENTION_DAYS
 * (1 here) go, with their webhook deliveries.
 */
jest.setTimeout(60_000);
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 15_000;

const push = usePush({ EVENT_RETENTION_DAYS: '1', EVENT_SWEEP_INTERVAL_MS: '200' });
let endpoint: WebhookReceiver;

beforeAll(async () => {
  endpoint = await WebhookReceiver.start();
});

afterAll(async () => {
  await endpoint?.close();
});

function merchantGet(merchant: FakeMerchant, path: string): Promise<Answer> {
  return asMerchant(push.base_url, merchant, 'GET', path);
}

async function recorded(...events: PlatformEvent[]): Promise<void> {
  for (const event of events) await push.publish(event);
  await waitFor(() => push.consumerIdle(), { description: 'push recorded the events', timeout_ms });
}

function ids(answer: Answer): unknown[] {
  return (answer.body.data ?? []).map((event) => event['id']);
}

describe('push: events API', () => {
  it('lists a merchant its own events, newest first, a page at a time, by type', async () => {
    const merchant = push.fakes.addMerchant(null);
    const other = push.fakes.addMerchant(null);
    const created = makeEvent({ merchant: merchant.merchant_id, type: 'payment_intent.created' });
    const succeeded = makeEvent({ merchant: merchant.merchant_id, type: 'payment_intent.succeeded' });
    const theirs = makeEvent({ merchant: other.merchant_id, type: 'payment_intent.created' });
    const latest = makeEvent({ merchant: merchant.merchant_id, type: 'payment_intent.created' });
    await recorded(created, succeeded, theirs, latest);

    const first = await merchantGet(merchant, '/v1/events?limit=2');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ object: 'list', data: [latest, succeeded], has_more: true });
    const next = await merchantGet(merchant, `/v1/events?limit=2&starting_after=${succeeded.id}`);
    expect(next.body).toEqual({ object: 'list', data: [created], has_more: false });
    expect(ids(await merchantGet(merchant, '/v1/events?type=payment_intent.created'))).toEqual([latest.id, created.id]);
    expect(ids(await merchantGet(merchant, '/v1/events?type=refund.succeeded'))).toEqual([]);
    expect(ids(await merchantGet(other, '/v1/events'))).toEqual([theirs.id]);
  });

  // Balance updates are written by accounts: apps/e2e/test/holder-balance.spec.ts lists the real ones to their holder.
  it("lists a holder its account's events", async () => {
    const merchant = push.fakes.addMerchant(null);
    const holder = push.fakes.addHolder();
    const paid = makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'payment_intent.succeeded' });
    const refunded = makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'refund.succeeded' });
    const not_about_it = makeEvent({ merchant: merchant.merchant_id, account: null });
    await recorded(paid, refunded, not_about_it);

    const list = await asHolder(push.base_url, holder.token, '/v1/events');
    expect(list).toMatchObject({ status: 200, body: { object: 'list', data: [refunded, paid], has_more: false } });
    expect(ids(await asHolder(push.base_url, holder.token, '/v1/events?type=refund.succeeded'))).toEqual([refunded.id]);
    expect(ids(await merchantGet(merchant, '/v1/events'))).toEqual([not_about_it.id, refunded.id, paid.id]);
  });

  it("answers one event to the merchant or holder it belongs to, and 404 to anyone else", async () => {
    const merchant = push.fakes.addMerchant(null);
    const holder = push.fakes.addHolder();
    const event = makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'payment_intent.succeeded' });
    await recorded(event);

    expect(await merchantGet(merchant, `/v1/events/${event.id}`)).toMatchObject({ status: 200, body: event });
    expect(await asHolder(push.base_url, holder.token, `/v1/events/${event.id}`)).toMatchObject({ status: 200, body: event });
    const missing = { status: 404, body: { error: { type: 'invalid_request_error', code: 'resource_missing', message: expect.any(String) } } };
    expect(await merchantGet(push.fakes.addMerchant(null), `/v1/events/${event.id}`)).toMatchObject(missing);
    expect(await asHolder(push.base_url, push.fakes.addHolder().token, `/v1/events/${event.id}`)).toMatchObject(missing);
    expect(await merchantGet(merchant, '/v1/events/evt_doesnotexist0000')).toMatchObject(missing);
    const another_holder = push.fakes.addHolder();
    expect(ids(await asHolder(push.base_url, another_holder.token, '/v1/events'))).toEqual([]);
  });

  it('refuses bad input with 400 and unauthenticated requests with 401', async () => {
    const merchant = push.fakes.addMerchant(null);
    const error = async (path: string) => (await merchantGet(merchant, path)).body.error;
    expect(await error('/v1/events?type=Not%20A%20Type')).toMatchObject({ type: 'invalid_request_error', param: 'type' });
    expect(await error('/v1/events?limit=0')).toMatchObject({ param: 'limit' });
    expect(await error('/v1/events?limit=101')).toMatchObject({ param: 'limit' });
    expect(await error('/v1/events?colour=red')).toMatchObject({ code: 'unknown_parameter' });
    expect(await error('/v1/events?starting_after=evt_doesnotexist0000')).toMatchObject({ code: 'parameter_invalid', param: 'starting_after' });
    expect((await fetch(`${push.base_url}/v1/events`)).status).toBe(401);
    expect((await asHolder(push.base_url, 'at_doesnotexist', '/v1/events')).status).toBe(401);
  });

  it('is documented in OpenAPI', async () => {
    type Operation = { parameters?: { name: string; in: string }[]; responses?: Record<string, unknown> };
    const docs = await jsonFetch<{ paths: Record<string, Record<string, Operation>> }>(`${push.base_url}/docs-json`);
    const list = docs.body.paths['/v1/events']?.['get'];
    const one = docs.body.paths['/v1/events/{id}']?.['get'];
    expect(list?.parameters?.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name).sort()).toEqual(['limit', 'starting_after', 'type']);
    expect(Object.keys(list?.responses ?? {})).toEqual(expect.arrayContaining(['400', '401', '403']));
    expect(Object.keys(one?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403', '404']));
  });
});

describe('push: event retention', () => {
  it('deletes events older than EVENT_RETENTION_DAYS with their webhook deliveries, and keeps newer ones', async () => {
    const merchant = push.fakes.addMerchant(endpoint.url);
    const old = makeEvent({ merchant: merchant.merchant_id });
    const fresh = makeEvent({ merchant: merchant.merchant_id });
    await recorded(old, fresh);
    const deliveries = (event: PlatformEvent) => merchantGet(merchant, `/v1/webhook-deliveries?event=${event.id}`);
    await waitFor(async () => (await deliveries(old)).body.data?.length === 1 && (await deliveries(fresh)).body.data?.length === 1, {
      description: 'both deliveries are recorded',
      timeout_ms,
    });

    // A day and a bit ago, as far as push can tell: past the retention of 1 day.
    await push.database.query(`UPDATE events SET received_at = now() - interval '25 hours' WHERE id = $1`, [old.id]);
    await waitFor(async () => (await merchantGet(merchant, `/v1/events/${old.id}`)).status === 404, { description: 'the old event is gone', timeout_ms });
    expect((await deliveries(old)).body.data).toEqual([]);
    expect((await merchantGet(merchant, `/v1/events/${fresh.id}`)).status).toBe(200);
    expect((await deliveries(fresh)).body.data).toHaveLength(1);
    const left: { rows: { n: number }[] } = await push.database.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE event_id = $1', [old.id]);
    expect(left.rows[0]?.n).toBe(0);
  });

  it('makes no redelivery of an event swept since the merchant asked (no foreign key: the insert joins the event)', async () => {
    const merchant = push.fakes.addMerchant(endpoint.url);
    const kept = makeEvent({ merchant: merchant.merchant_id });
    await recorded(kept);
    const manager = (push.stack.apps['push'] as INestApplication).get(DataSource).manager;
    const target = { merchant_id: merchant.merchant_id, endpoint_id: `we_${merchant.merchant_id.slice('mer_'.length)}`, url: endpoint.url };
    // What a redelivery writes once it has read the event: for a swept one, nothing.
    const swept = makeEvent({ merchant: merchant.merchant_id });
    expect(await insertDeliveries(manager, [{ ...target, event_id: swept.id }], 'redeliver')).toEqual([]);
    const made = await insertDeliveries(manager, [{ ...target, event_id: kept.id }], 'redeliver');
    expect(made).toEqual([expect.objectContaining({ event_id: kept.id, status: 'pending', attempts: 0 })]);
    const orphans: { rows: { n: number }[] } = await push.database.query(
      'SELECT count(*)::int AS n FROM webhook_deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)',
    );
    expect(orphans.rows[0]?.n).toBe(0);
  });
});

