import type { MerchantObject, WebhookDeliveryObject, WebhookEndpointObject } from '@paynet/contracts';
import type { PaynetClient } from '@paynet/sdk';
import { adminFetch, type Behaviour, jsonFetch, merchantClient, type Stack, StreamClient, waitFor, WebhookReceiver } from '@paynet/testing';
import { Webhook } from 'standardwebhooks';
import { useEndToEndWorld } from './world.js';

type Endpoint = WebhookEndpointObject;
type List<T> = { object: 'list'; data: T[]; has_more: boolean };

/**
 * Webhook endpoints as a merchant uses them (API.md, merchants: webhook
 * endpoints; push: webhooks), through all four services.
 */
describe('webhook endpoints: several per merchant, filtered, rotated, retried to the current URL, disabled when gone', () => {
  const world = useEndToEndWorld();
  let stack: Stack;
  const receivers: WebhookReceiver[] = [];
  beforeAll(() => ({ stack } = world));
  afterAll(async () => {
    for (const receiver of receivers) await receiver.close();
  });

  async function receiver(behaviour?: Behaviour): Promise<WebhookReceiver> {
    const started = await WebhookReceiver.start(behaviour);
    receivers.push(started);
    return started;
  }

  async function onboard(webhook_url?: string): Promise<{ merchant: MerchantObject; client: PaynetClient }> {
    const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Shop', currency: 'USD', ...(webhook_url ? { webhook_url } : {}) });
    expect(created.status).toBe(201);
    return { merchant: created.body, client: merchantClient(stack, created.body) };
  }

  async function deliveriesOf(client: PaynetClient, event_id: string): Promise<WebhookDeliveryObject[]> {
    const answer = await client.request<List<WebhookDeliveryObject>>('GET', `/v1/webhook-deliveries?event=${event_id}&limit=100`);
    expect(answer.status).toBe(200);
    return answer.body.data;
  }

  /** A new intent, and the id of its payment_intent.created event as the endpoint receives it. */
  async function newIntent(client: PaynetClient, reference: string): Promise<string> {
    return (await client.createPaymentIntent({ amount: 500, currency: 'USD', reference })).id;
  }

  function eventIdOf(webhook: { body: string }): string {
    return (JSON.parse(webhook.body) as { id: string }).id;
  }

  function intentOf(webhook: { body: string }): string {
    return (JSON.parse(webhook.body) as { data: { object: { id: string } } }).data.object.id;
  }

  it("makes the onboarding webhook_url the first endpoint, and keeps at most 16; other merchants' endpoints do not exist for them", async () => {
    const hooks = await receiver();
    const { merchant, client } = await onboard(hooks.url);
    const first = await client.request<List<Endpoint>>('GET', '/v1/webhook-endpoints');
    expect(first.body).toMatchObject({ object: 'list', has_more: false, data: [{ object: 'webhook_endpoint', url: hooks.url, enabled_events: ['*'], status: 'enabled' }] });
    expect(first.body.data[0]).not.toHaveProperty('secret');

    const created = await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url: `${hooks.url}?n=2`, enabled_events: ['refund.succeeded'], description: 'refunds' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^we_/), url: `${hooks.url}?n=2`, enabled_events: ['refund.succeeded'], description: 'refunds', status: 'enabled' });
    expect(created.body.secret).toMatch(/^whsec_/);
    expect(created.body.secret).not.toBe(merchant.webhook_secret);
    for (let n = 3; n <= 16; n++) expect((await client.request('POST', '/v1/webhook-endpoints', { url: `${hooks.url}?n=${n}` })).status).toBe(201);
    const seventeenth = await client.request('POST', '/v1/webhook-endpoints', { url: `${hooks.url}?n=17` });
    expect(seventeenth).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error', code: 'resource_limit_exceeded' } } });

    const updated = await client.request<Endpoint>('POST', `/v1/webhook-endpoints/${created.body.id}`, { enabled_events: ['*'], description: null });
    expect(updated.body).toMatchObject({ id: created.body.id, enabled_events: ['*'], description: null });
    expect((await client.request('POST', `/v1/webhook-endpoints/${created.body.id}`, { url: 'ftp://example.com/x' })).status).toBe(400);
    expect((await client.request('POST', `/v1/webhook-endpoints/${created.body.id}`, { colour: 'red' })).body).toMatchObject({ error: { code: 'unknown_parameter' } });

    const { client: other } = await onboard();
    expect((await other.request('GET', `/v1/webhook-endpoints/${created.body.id}`)).status).toBe(404);
    expect((await other.request('DELETE', `/v1/webhook-endpoints/${created.body.id}`)).status).toBe(404);
    expect((await other.request<List<Endpoint>>('GET', '/v1/webhook-endpoints')).body.data).toEqual([]);

    expect((await client.request('DELETE', `/v1/webhook-endpoints/${created.body.id}`)).body).toEqual({ id: created.body.id, object: 'webhook_endpoint', deleted: true });
    expect((await client.request('GET', `/v1/webhook-endpoints/${created.body.id}`)).status).toBe(404);
    expect((await client.request('POST', '/v1/webhook-endpoints', { url: `${hooks.url}?n=17` })).status).toBe(201);
  });

  it('delivers each event once per enabled endpoint whose filter admits it, each signed with its own secret', async () => {
    const a = await receiver();
    const b = await receiver();
    const c = await receiver();
    const { merchant, client } = await onboard(a.url);
    const all = (await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url: b.url })).body;
    await client.request('POST', '/v1/webhook-endpoints', { url: c.url, enabled_events: ['payment_intent.canceled'] });
    const intent = await newIntent(client, 'fan-out');
    await waitFor(() => a.received.length === 1 && b.received.length === 1, { timeout_ms: 30_000, description: 'both admitting endpoints receive the event' });
    const event_id = eventIdOf(a.received[0] as { body: string });
    expect(new Webhook(merchant.webhook_secret as string).verify(a.received[0]!.body, a.received[0]!.headers as Record<string, string>)).toMatchObject({ id: event_id });
    expect(new Webhook(all.secret as string).verify(b.received[0]!.body, b.received[0]!.headers as Record<string, string>)).toMatchObject({ id: event_id });
    expect(() => new Webhook(merchant.webhook_secret as string).verify(b.received[0]!.body, b.received[0]!.headers as Record<string, string>)).toThrow();
    expect(intentOf(b.received[0] as { body: string })).toBe(intent);
    const deliveries = await waitFor(async () => {
      const list = await deliveriesOf(client, event_id);
      return list.length === 2 && list.every((delivery) => delivery.status === 'succeeded') && list;
    }, { timeout_ms: 30_000 });
    expect(deliveries.map((delivery) => delivery.url).sort()).toEqual([a.url, b.url].sort());
    expect(c.received).toEqual([]);
  });

  it('signs with the old and the new secret during a rotation grace, and only the new one after a rotation with no grace', async () => {
    const hooks = await receiver();
    const { client } = await onboard();
    const endpoint = (await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url: hooks.url })).body;
    const rotated = await client.request<Endpoint>('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { grace_seconds: 3_600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(endpoint.secret);
    await newIntent(client, 'during-grace');
    await waitFor(() => hooks.received.length === 1, { timeout_ms: 30_000, description: 'the webhook during the grace' });
    const during = hooks.received[0]!;
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [endpoint.secret, rotated.body.secret]) new Webhook(secret as string).verify(during.body, during.headers as Record<string, string>);

    const again = await client.request<Endpoint>('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { grace_seconds: 0 });
    await newIntent(client, 'after-grace');
    await waitFor(() => hooks.received.length === 2, { timeout_ms: 30_000, description: 'the webhook after the grace ended' });
    const after = hooks.received[1]!;
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    new Webhook(again.body.secret as string).verify(after.body, after.headers as Record<string, string>);
    expect(() => new Webhook(rotated.body.secret as string).verify(after.body, after.headers as Record<string, string>)).toThrow();
    expect((await client.request('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { grace_seconds: 604_801 })).status).toBe(400);
  });

  it("retries to the endpoint's URL as it is at the retry, no sooner than a 503's Retry-After asks", async () => {
    const retry_after_seconds = 4;
    const old_url = await receiver(() => ({ status: 503, headers: { 'retry-after': String(retry_after_seconds) } }));
    const new_url = await receiver();
    const { client } = await onboard();
    const endpoint = (await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url: old_url.url })).body;
    await newIntent(client, 'moved');
    await waitFor(() => old_url.received.length === 1, { timeout_ms: 30_000, description: 'the first attempt, answered 503' });
    expect((await client.request('POST', `/v1/webhook-endpoints/${endpoint.id}`, { url: new_url.url })).status).toBe(200);
    await waitFor(() => new_url.received.length === 1, { timeout_ms: 30_000, description: 'the retry, at the new URL' });
    expect(old_url.received).toHaveLength(1);
    const [first, retry] = [old_url.received[0]!, new_url.received[0]!];
    expect(retry.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(retry.at_ms - first.at_ms).toBeGreaterThanOrEqual(retry_after_seconds * 1_000 - 50);
    const deliveries = await waitFor(async () => {
      const list = await deliveriesOf(client, String(first.headers['webhook-id']));
      return list[0]?.status === 'succeeded' && list;
    }, { timeout_ms: 30_000 });
    expect(deliveries).toEqual([expect.objectContaining({ url: new_url.url, attempts: 2, last_status_code: 200 })]);
  });

  it('disables an endpoint that answers 410 at once, tells the merchant\'s stream, and fails what was pending for it', async () => {
    const gone = await receiver(() => ({ status: 410 }));
    const { merchant, client } = await onboard();
    const stream = await StreamClient.open(stack.urls.push, (await client.createStreamToken(merchant.id)).token);
    world.streams.push(stream);
    const endpoint = (await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url: gone.url })).body;
    await newIntent(client, 'gone');
    const disabled = await stream.waitForEvent('webhook_endpoint.disabled', endpoint.id, 30_000);
    expect(disabled).toMatchObject({ type: 'webhook_endpoint.disabled', merchant: merchant.id, data: { object: { id: endpoint.id, status: 'disabled' } } });
    expect((await client.request<Endpoint>('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.status).toBe('disabled');
    expect(gone.received).toHaveLength(1);
    const deliveries = await deliveriesOf(client, eventIdOf(gone.received[0]!));
    expect(deliveries).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, last_status_code: 410, next_attempt_at: null })]);
  });

  it('gives a disabled or deleted endpoint no more attempts: its pending deliveries read failed, and stay so when it is enabled again', async () => {
    const failing = await receiver(() => ({ status: 500 }));
    const { client } = await onboard();
    const kept = (await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url: failing.url })).body;
    const deleted = (await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url: `${failing.url}?deleted` })).body;
    await newIntent(client, 'off');
    await waitFor(() => failing.received.length >= 2, { timeout_ms: 30_000, description: 'a first failed attempt at each endpoint' });
    const event_id = eventIdOf(failing.received[0]!);
    expect((await client.request('POST', `/v1/webhook-endpoints/${kept.id}`, { status: 'disabled' })).status).toBe(200);
    expect((await client.request('DELETE', `/v1/webhook-endpoints/${deleted.id}`)).status).toBe(200);
    const deliveries = await deliveriesOf(client, event_id);
    expect(deliveries).toHaveLength(2);
    expect(deliveries.map((delivery) => [delivery.status, delivery.next_attempt_at])).toEqual([
      ['failed', null],
      ['failed', null],
    ]);
    expect((await client.request<Endpoint>('POST', `/v1/webhook-endpoints/${kept.id}`, { status: 'enabled' })).body.status).toBe('enabled');
    // A new event reaches the endpoint enabled again; the old deliveries stay as they were, failed.
    const intent = await newIntent(client, 'on-again');
    await waitFor(() => failing.received.some((webhook) => intentOf(webhook) === intent), { timeout_ms: 30_000, description: 'the new event' });
    expect(await deliveriesOf(client, event_id)).toEqual(deliveries);
  });

  it("lets the older webhook-endpoint route set the first endpoint's URL, and disable it with null", async () => {
    const first = await receiver();
    const second = await receiver();
    const { merchant, client } = await onboard(first.url);
    const moved = await client.request<MerchantObject>('POST', `/v1/merchants/${merchant.id}/webhook-endpoint`, { url: second.url });
    expect(moved.body).toMatchObject({ id: merchant.id, webhook_url: second.url });
    const endpoints = (await client.request<List<Endpoint>>('GET', '/v1/webhook-endpoints')).body.data;
    expect(endpoints).toEqual([expect.objectContaining({ url: second.url, status: 'enabled' })]);
    await newIntent(client, 'older-route');
    await waitFor(() => second.received.length === 1, { timeout_ms: 30_000, description: 'the webhook at the URL the older route set' });
    new Webhook(merchant.webhook_secret as string).verify(second.received[0]!.body, second.received[0]!.headers as Record<string, string>);

    const off = await client.request<MerchantObject>('POST', `/v1/merchants/${merchant.id}/webhook-endpoint`, { url: null });
    expect(off.body).toMatchObject({ webhook_url: null });
    expect((await client.request<List<Endpoint>>('GET', '/v1/webhook-endpoints')).body.data).toEqual([expect.objectContaining({ status: 'disabled' })]);
  });

  it('redelivers to every enabled endpoint that admits the event', async () => {
    const a = await receiver();
    const b = await receiver();
    const { client } = await onboard(a.url);
    await client.request('POST', '/v1/webhook-endpoints', { url: b.url });
    await newIntent(client, 'redeliver');
    await waitFor(() => a.received.length === 1 && b.received.length === 1, { timeout_ms: 30_000, description: 'the first deliveries' });
    const event_id = eventIdOf(a.received[0]!);
    const one = await client.request<List<WebhookDeliveryObject>>('POST', `/v1/events/${event_id}/redeliver`);
    expect(one.status).toBe(202);
    expect(one.body.data.map((delivery) => delivery.url).sort()).toEqual([a.url, b.url].sort());
    await waitFor(() => a.received.length === 2 && b.received.length === 2, { timeout_ms: 30_000, description: 'the redeliveries' });
  });

  it("delivers another merchant's webhook while one merchant's 64 deliveries hang on 16 URL variants of a dead endpoint", async () => {
    const dead = await receiver(() => ({ status: 200, delay_ms: 600_000 }));
    const healthy = await receiver();
    const { client: abuser } = await onboard(`${dead.url}?n=1`);
    for (let n = 2; n <= 16; n++) expect((await abuser.request('POST', '/v1/webhook-endpoints', { url: `${dead.url}?n=${n}` })).status).toBe(201);
    const hanging_intents = [];
    for (let i = 0; i < 4; i++) hanging_intents.push(await newIntent(abuser, `hang-${i}`));
    // The abuser's deliveries have taken every slot they may before the other merchant's event exists.
    await waitFor(() => dead.received.length >= 4, { timeout_ms: 30_000, description: "the abuser's first attempts hang" });

    const { client: bystander } = await onboard(healthy.url);
    const intent = await newIntent(bystander, 'on-time');
    await waitFor(() => healthy.received.some((webhook) => intentOf(webhook) === intent), { description: "the other merchant's webhook", timeout_ms: 60_000 });

    // It arrived while all 64 still hang: not one attempt of theirs has ended yet.
    const abused = (await abuser.request<List<WebhookDeliveryObject>>('GET', '/v1/webhook-deliveries?limit=100')).body.data;
    expect(abused).toHaveLength(64);
    expect(abused.filter((delivery) => delivery.status !== 'pending' || delivery.attempts !== 0)).toEqual([]);
    expect(dead.received.length).toBeLessThan(64);
    expect(hanging_intents).toHaveLength(4);
  });

  it('documents the endpoint routes and the redelivery limit in OpenAPI', async () => {
    const merchants = (await jsonFetch<{ paths: Record<string, Record<string, unknown>> }>(`${stack.urls.merchants}/docs-json`)).body.paths;
    expect(Object.keys(merchants['/v1/webhook-endpoints'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(merchants['/v1/webhook-endpoints/{id}'] ?? {}).sort()).toEqual(['delete', 'get', 'post']);
    expect(Object.keys(merchants['/v1/webhook-endpoints/{id}/rotate-secret'] ?? {})).toEqual(['post']);
    const push = (await jsonFetch<{ paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> }>(`${stack.urls.push}/docs-json`)).body.paths;
    expect(Object.keys(push['/v1/events/{id}/redeliver']?.['post']?.responses ?? {})).toContain('429');
  });
});

