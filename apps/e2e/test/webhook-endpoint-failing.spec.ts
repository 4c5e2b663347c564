import type { MerchantObject, WebhookEndpointObject } from '@paynet/contracts';
import { adminFetch, merchantClient, type Stack, startStack, StreamClient, waitFor, WebhookReceiver } from '@paynet/testing';

/** 5 days times this is under 9 s; the whole retry schedule of one delivery takes about 2 s. */
const retry_scale = 0.00002;
const failing_days_scaled_ms = 5 * 86_400_000 * retry_scale;

describe('a webhook endpoint that has only failed for five (scaled) days', () => {
  let stack: Stack;
  let failing: WebhookReceiver;
  let stream: StreamClient | undefined;

  beforeAll(async () => {
    [stack, failing] = await Promise.all([startStack({ serviceEnv: { push: { WEBHOOK_RETRY_SCALE: String(retry_scale) } } }), WebhookReceiver.start(() => ({ status: 500 }))]);
  });

  afterAll(async () => {
    stream?.close();
    await failing?.close();
    await stack?.stop();
  });

  it('is disabled, and the merchant hears webhook_endpoint.disabled on its stream', async () => {
    const merchant = (await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Shop', currency: 'USD' })).body;
    const client = merchantClient(stack, merchant);
    stream = await StreamClient.open(stack.urls.push, (await client.createStreamToken(merchant.id)).token);
    const endpoint = (await client.request<WebhookEndpointObject>('POST', '/v1/webhook-endpoints', { url: failing.url })).body;
    let n = 0;
    // New events keep coming; each of their deliveries fails, until the endpoint has failed for five scaled days.
    const disabled = await waitFor(
      async () => {
        const current = (await client.request<WebhookEndpointObject>('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body;
        if (current.status === 'disabled') return current;
        await client.createPaymentIntent({ amount: 100, currency: 'USD', reference: `failing-${n++}` });
        return false;
      },
      { timeout_ms: 120_000, interval_ms: 1_000, description: 'the endpoint disabled after days of failures' },
    );
    expect(disabled).toMatchObject({ id: endpoint.id, status: 'disabled' });
    expect(await stream.waitForEvent('webhook_endpoint.disabled', endpoint.id, 30_000)).toMatchObject({ merchant: merchant.id, data: { object: { id: endpoint.id, status: 'disabled' } } });
    const first = failing.received[0]!.at_ms;
    const last = failing.received[failing.received.length - 1]!.at_ms;
    // Not sooner than five scaled days after the first failure, and only ever failures in between.
    expect(last - first).toBeGreaterThanOrEqual(failing_days_scaled_ms - 1_000);
  });
});
