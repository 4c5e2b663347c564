import type { AccountObject, BalanceObject, MerchantObject, PlatformEvent } from '@paynet/contracts';
import { PaynetClient } from '@paynet/sdk';
import { adminFetch, jsonFetch, type Stack, StreamClient, waitFor, type WebhookReceiver } from '@paynet/testing';
import { Webhook } from 'standardwebhooks';
import { useEndToEndWorld } from './world.js';

/**
 * Manual capture and a refund end to end, as users see them: the holder's
 * money is held, then partly captured (the fee to the platform, the rest
 * released), then partly refunded; merchant and holder hear each step live,
 * the merchant also by signed webhooks, and the ledger checks out.
 */
describe('a held payment, captured in part and refunded in part, through all four services', () => {
  const world = useEndToEndWorld();
  const streams = world.streams;
  let stack: Stack;
  let receiver: WebhookReceiver;
  beforeAll(() => ({ stack, receiver } = world));

  async function holderBalance(holder: AccountObject): Promise<BalanceObject> {
    return (await jsonFetch<BalanceObject>(`${stack.urls.accounts}/v1/accounts/${holder.id}/balance`, { headers: { authorization: `Bearer ${holder.token}` } })).body;
  }

  it('holds, captures part (fee to the platform, the rest released), refunds part, and tells everyone each step', async () => {
    const holder = (await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: 'Bo Holder' })).body;
    expect((await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${holder.id}/deposits`, { amount: 10_000 }, { idempotencyKey: 'fund-bo' })).status).toBe(201);
    const merchant = (
      await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Bike Shop', currency: 'USD', fee_bps: 200, webhook_url: receiver.url })
    ).body;
    const client = new PaynetClient({
      apiKey: merchant.api_key as string,
      apiSecret: merchant.api_secret as string,
      urls: { merchants: stack.urls.merchants, payments: stack.urls.payments, push: stack.urls.push },
    });
    const merchant_stream = await StreamClient.open(stack.urls.push, (await client.createStreamToken(merchant.id)).token);
    const holder_stream = await StreamClient.open(stack.urls.push, holder.token as string);
    streams.push(merchant_stream, holder_stream);

    const intent = await client.createPaymentIntent({ amount: 4_000, currency: 'USD', reference: 'bike-1', capture_method: 'manual' });
    const paid = await jsonFetch(`${stack.urls.payments}/v1/payment-intents/${intent.id}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${holder.token}`, 'idempotency-key': 'pay-bike-1' },
      body: { account: holder.id },
    });
    expect(paid.body).toMatchObject({ status: 'requires_capture', amount_received: 0 });
    expect(await merchant_stream.waitForEvent('payment_intent.requires_capture', intent.id)).toMatchObject({ merchant: merchant.id, account: holder.id });
    await holder_stream.waitForEvent('payment_intent.requires_capture', intent.id);
    expect(await holderBalance(holder)).toMatchObject({ posted: 10_000, pending: 4_000, available: 6_000 });

    const captured = await client.capturePaymentIntent(intent.id, { amount: 3_000 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 3_000 });
    await merchant_stream.waitForEvent('payment_intent.succeeded', intent.id);
    expect(await holderBalance(holder)).toMatchObject({ posted: 7_000, pending: 0, available: 7_000 });

    const refund = await client.createRefund(intent.id, { amount: 1_000, reason: 'one wheel returned' });
    expect(refund).toMatchObject({ object: 'refund', amount: 1_000, payment_intent: intent.id, status: 'succeeded' });
    expect(await merchant_stream.waitForEvent('refund.succeeded', refund.id)).toMatchObject({ merchant: merchant.id, account: holder.id });
    await holder_stream.waitForEvent('refund.succeeded', refund.id);
    expect(await client.retrievePaymentIntent(intent.id)).toMatchObject({ amount_received: 3_000, amount_refunded: 1_000 });

    // Holder: 10,000 - 3,000 + 1,000. Merchant: 3,000 less its 2 % fee (60, kept by the platform on refund), less 1,000.
    expect(await holderBalance(holder)).toMatchObject({ posted: 8_000, available: 8_000 });
    expect(await client.getMerchantBalance(merchant.id)).toMatchObject({ posted: 1_940, available: 1_940 });
    expect((await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).body).toMatchObject({ ok: true, problems: [] });

    // Every step reached the merchant's endpoint, signed per Standard Webhooks.
    await waitFor(() => receiver.received.length >= 4, { timeout_ms: 20_000, interval_ms: 50, description: 'four webhooks' });
    const verifier = new Webhook(merchant.webhook_secret as string);
    const delivered = receiver.received.map((webhook) => verifier.verify(webhook.body, webhook.headers as Record<string, string>) as PlatformEvent);
    expect(delivered.map((event) => event.type).sort()).toEqual(
      ['payment_intent.created', 'payment_intent.requires_capture', 'payment_intent.succeeded', 'refund.succeeded'].sort(),
    );
  });
});
