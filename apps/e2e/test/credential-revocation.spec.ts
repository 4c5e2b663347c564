import type { MerchantObject, PaymentIntentObject, WebhookEndpointObject } from '@paynet/contracts';
import type { PaynetClient } from '@paynet/sdk';
import {
  adminFetch,
  createHolder,
  jsonFetch,
  merchantClient,
  onboardMerchant,
  type Stack,
  startStack,
  StreamClient,
  type TestHolder,
  waitFor,
  WebhookReceiver,
} from '@paynet/testing';
import { randomUUID } from 'node:crypto';

/** API.md: streams under a revoked credential are closed (code 1008) within 5 s. */
const revoked_stream_closed_within_ms = 5_000;
/** Holder stream tokens live this long in this stack (default 1 h), so their end can be watched. */
const holder_stream_token_ttl_seconds = 6;

type StreamTokenAnswer = { object: 'stream_token'; token: string; expires_at: number };

/**
 * Credentials that can be taken back (API.md, Authentication; merchants
 * api-keys/rotate; accounts token/rotate and stream-tokens; push stream),
 * through all four services as processes.
 */
describe('credentials that can be taken back', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  const streams: StreamClient[] = [];

  beforeAll(async () => {
    [stack, receiver] = await Promise.all([
      startStack({ serviceEnv: { accounts: { STREAM_TOKEN_TTL_SECONDS: String(holder_stream_token_ttl_seconds) } } }),
      WebhookReceiver.start(),
    ]);
  });
  afterAll(async () => {
    await Promise.all(streams.map((stream) => stream.close()));
    await receiver?.close();
    await stack?.stop();
  });

  async function open(token: string): Promise<StreamClient> {
    const stream = await StreamClient.open(stack.urls.push, token);
    streams.push(stream);
    return stream;
  }

  async function onboard(): Promise<{ merchant: MerchantObject; client: PaynetClient }> {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD', webhook_url: receiver.url });
    return { merchant, client: merchantClient(stack, merchant) };
  }

  /** Rotates the merchant's key as `client`; answers the new key's client. */
  async function rotate(client: PaynetClient, merchant: MerchantObject, grace_seconds?: number): Promise<PaynetClient> {
    const answer = await client.request<MerchantObject>('POST', `/v1/merchants/${merchant.id}/api-keys/rotate`, grace_seconds === undefined ? {} : { grace_seconds });
    expect(answer.status).toBe(200);
    return merchantClient(stack, { ...merchant, ...answer.body });
  }

  async function streamToken(client: PaynetClient, merchant: MerchantObject): Promise<string> {
    return (await client.createStreamToken(merchant.id)).token;
  }

  function closedWith(stream: StreamClient, code: number, description: string): Promise<true> {
    return waitFor(() => stream.close_code === code, { timeout_ms: revoked_stream_closed_within_ms, interval_ms: 25, description });
  }

  async function holderStreamToken(holder: TestHolder, token = holder.token): Promise<StreamTokenAnswer> {
    const answer = await jsonFetch<StreamTokenAnswer>(`${stack.urls.accounts}/v1/accounts/${holder.id}/stream-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(answer.status).toBe(201);
    return answer.body;
  }

  async function rotateHolderToken(holder: TestHolder, bearer: string): Promise<string> {
    const answer = await jsonFetch<{ token: string }>(`${stack.urls.accounts}/v1/accounts/${holder.id}/token/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}` },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.token).toMatch(/^at_/);
    expect(answer.body.token).not.toBe(bearer);
    return answer.body.token;
  }

  function readAccount(holder: TestHolder, token: string) {
    return jsonFetch(`${stack.urls.accounts}/v1/accounts/${holder.id}`, { headers: { authorization: `Bearer ${token}` } });
  }

  /** A paid intent of `client`'s merchant: its events carry the holder's account. */
  async function pay(client: PaynetClient, holder: TestHolder, token = holder.token): Promise<PaymentIntentObject> {
    const intent = await client.createPaymentIntent({ amount: 100, currency: 'USD', reference: `order-${randomUUID()}` });
    const paid = await jsonFetch<PaymentIntentObject>(`${stack.urls.payments}/v1/payment-intents/${intent.id}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID() },
      body: { account: holder.id },
    });
    expect(paid.status).toBe(200);
    return paid.body;
  }

  it('lets a key in its grace period read, but not rotate keys or create, update, delete or rotate webhook endpoints (403)', async () => {
    const { merchant, client: old_key } = await onboard();
    const first = (await old_key.request<{ data: WebhookEndpointObject[] }>('GET', '/v1/webhook-endpoints')).body.data[0] as WebhookEndpointObject;
    const new_key = await rotate(old_key, merchant);

    expect((await old_key.request('GET', `/v1/merchants/${merchant.id}`)).status).toBe(200);
    expect((await old_key.request('GET', `/v1/webhook-endpoints/${first.id}`)).status).toBe(200);
    const refused = [
      await old_key.request('POST', `/v1/merchants/${merchant.id}/api-keys/rotate`, { grace_seconds: 0 }),
      await old_key.request('POST', '/v1/webhook-endpoints', { url: receiver.url }),
      await old_key.request('POST', `/v1/webhook-endpoints/${first.id}`, { url: `${receiver.url}/elsewhere` }),
      await old_key.request('POST', `/v1/webhook-endpoints/${first.id}/rotate-secret`, { grace_seconds: 0 }),
      await old_key.request('DELETE', `/v1/webhook-endpoints/${first.id}`),
      await old_key.request('POST', `/v1/merchants/${merchant.id}/webhook-endpoint`, { url: null }),
    ];
    for (const answer of refused) {
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error: { type: 'permission_error' } });
    }
    // Nothing changed: the owner's new key still works, the endpoint is as it was, and the new key may manage.
    expect((await new_key.request('GET', `/v1/merchants/${merchant.id}`)).status).toBe(200);
    expect((await new_key.request('GET', `/v1/webhook-endpoints/${first.id}`)).body).toMatchObject({ url: receiver.url, status: 'enabled' });
    expect((await new_key.request('GET', '/v1/webhook-endpoints')).body).toMatchObject({ data: [{ id: first.id }] });
    expect((await new_key.request('POST', '/v1/webhook-endpoints', { url: receiver.url })).status).toBe(201);
  });

  it('revokes the old key at once with grace_seconds 0, ends every earlier grace, and refuses the stream tokens issued under them', async () => {
    const { merchant, client: first_key } = await onboard();
    const first_token = await streamToken(first_key, merchant);
    const second_key = await rotate(first_key, merchant);
    const second_token = await streamToken(second_key, merchant);
    expect((await first_key.request('GET', `/v1/merchants/${merchant.id}`)).status).toBe(200);

    const third_key = await rotate(second_key, merchant, 0);
    for (const revoked of [first_key, second_key]) {
      const answer = await revoked.request('GET', `/v1/merchants/${merchant.id}`);
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } });
    }
    expect((await third_key.request('GET', `/v1/merchants/${merchant.id}`)).status).toBe(200);
    for (const token of [first_token, second_token]) {
      expect(await StreamClient.refusal(stack.urls.push, token)).toMatchObject({ status: 401, upgraded: false, body: { error: { type: 'authentication_error' } } });
    }
    const third_token = await streamToken(third_key, merchant);
    expect((await StreamClient.refusal(stack.urls.push, third_token)).upgraded).toBe(true);
  });

  it("closes (1008) the streams open under a revoked key within 5 s, keeps the new key's streams, and closes a grace key's streams when its grace ends", async () => {
    const { merchant, client: old_key } = await onboard();
    const doomed = await open(await streamToken(old_key, merchant));
    const new_key = await rotate(old_key, merchant, 0);
    await closedWith(doomed, 1008, "the revoked key's stream closed");

    const graced = await open(await streamToken(new_key, merchant));
    const newest_key = await rotate(new_key, merchant, 2);
    const kept_on_newest = await open(await streamToken(newest_key, merchant));
    // The grace key's streams work until the grace ends...
    const intent = await newest_key.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'during the grace' });
    await graced.waitForEvent('payment_intent.created', intent.id);
    // ...and close when it does (2 s, plus the 5 s API.md allows).
    await waitFor(() => graced.close_code === 1008, { timeout_ms: 2_000 + revoked_stream_closed_within_ms, interval_ms: 25, description: "the grace key's stream closed" });
    const after = await newest_key.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'after the grace' });
    await kept_on_newest.waitForEvent('payment_intent.created', after.id);
    expect(kept_on_newest.close_code).toBeUndefined();
  });

  it('rotates a holder token (holder or operator): the old token, its holder stream tokens and their open streams stop at once', async () => {
    const holder = await createHolder(stack, { amount: 10_000 });
    const { client } = await onboard();
    const on_account_token = await open(holder.token);
    const stream_token = await holderStreamToken(holder);
    const on_stream_token = await open(stream_token.token);

    const second = await rotateHolderToken(holder, holder.token);
    expect((await readAccount(holder, holder.token)).status).toBe(401);
    expect((await readAccount(holder, second)).status).toBe(200);
    await closedWith(on_account_token, 1008, "the rotated account token's stream closed");
    await closedWith(on_stream_token, 1008, "the rotated token's holder stream token's stream closed");
    for (const token of [holder.token, stream_token.token]) {
      expect(await StreamClient.refusal(stack.urls.push, token)).toMatchObject({ status: 401, upgraded: false });
    }
    // The old token cannot pay; the new one can, and its stream hears the payment.
    const refused = await jsonFetch(`${stack.urls.payments}/v1/payment-intents/pi_unknown0000/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${holder.token}`, 'idempotency-key': randomUUID() },
      body: { account: holder.id },
    });
    expect(refused.status).toBe(401);
    const on_second = await open(second);
    const paid = await pay(client, holder, second);
    await on_second.waitForEvent('payment_intent.succeeded', paid.id);

    // The operator rotates it too (a holder who lost the token); the holder's token stops.
    const by_operator = await adminFetch<{ token: string }>(stack, 'accounts', 'POST', `/v1/accounts/${holder.id}/token/rotate`);
    expect(by_operator.status).toBe(200);
    expect((await readAccount(holder, second)).status).toBe(401);
    expect((await readAccount(holder, by_operator.body.token)).status).toBe(200);
    await closedWith(on_second, 1008, 'the stream of the token the operator rotated closed');
    // Another holder's account is not found, for rotation as for anything else.
    const other = await createHolder(stack);
    expect((await jsonFetch(`${stack.urls.accounts}/v1/accounts/${holder.id}/token/rotate`, { method: 'POST', headers: { authorization: `Bearer ${other.token}` } })).status).toBe(404);
  });

  it('issues short-lived holder stream tokens that the stream accepts until they expire, and that are no bearer tokens', async () => {
    const holder = await createHolder(stack, { amount: 10_000 });
    const { client } = await onboard();
    const issued = await holderStreamToken(holder);
    expect(issued).toMatchObject({ object: 'stream_token', token: expect.stringMatching(/^hst_/) });
    const now = Math.floor(Date.now() / 1000);
    expect(issued.expires_at).toBeGreaterThanOrEqual(now + holder_stream_token_ttl_seconds - 2);
    expect(issued.expires_at).toBeLessThanOrEqual(now + holder_stream_token_ttl_seconds + 1);

    const stream = await open(issued.token);
    const paid = await pay(client, holder);
    await stream.waitForEvent('payment_intent.succeeded', paid.id);
    // Good for the stream only: not a bearer token anywhere.
    expect((await readAccount(holder, issued.token)).status).toBe(401);
    expect((await jsonFetch(`${stack.urls.payments}/v1/payment-intents/${paid.id}`, { headers: { authorization: `Bearer ${issued.token}` } })).status).toBe(401);
    // Only the holder issues them: neither the operator nor a merchant.
    expect((await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${holder.id}/stream-tokens`)).status).toBe(403);

    await waitFor(() => stream.close_code === 1008, { timeout_ms: (holder_stream_token_ttl_seconds + 5) * 1_000, interval_ms: 50, description: 'the stream closed when its token expired' });
    expect(await StreamClient.refusal(stack.urls.push, issued.token)).toMatchObject({ status: 401, upgraded: false });
  });
});
