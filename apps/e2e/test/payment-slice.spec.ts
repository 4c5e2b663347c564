import type { AccountObject, BalanceObject, MerchantObject, PaymentIntentObject, PlatformEvent } from '@paynet/contracts';
import { PaynetClient, PaynetError } from '@paynet/sdk';
import { adminFetch, jsonFetch, type Stack, StreamClient, waitFor, type WebhookReceiver } from '@paynet/testing';
import { Webhook } from 'standardwebhooks';
import { useEndToEndWorld } from './world.js';

/**
 * The first payment end to end, as users see it: the operator opens a wallet
 * and funds it, onboards a merchant; the merchant creates a payment intent
 * with a signed request; the holder pays it; both hear about it live on the
 * WebSocket stream, the merchant also by a signed webhook; the money moved
 * (holder down, merchant up by the amount less the fee) and the ledger checks out.
 */
describe('a payment through all four services', () => {
  const world = useEndToEndWorld();
  const streams = world.streams;
  let stack: Stack;
  let receiver: WebhookReceiver;
  beforeAll(() => ({ stack, receiver } = world));

  it('moves the money once, tells merchant and payer live, and delivers signed webhooks', async () => {
    // The operator opens and funds a wallet.
    const holder = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: 'Ann Holder' });
    expect(holder.status).toBe(201);
    expect(holder.body.id).toMatch(/^acct_/);
    expect(holder.body.token).toBeDefined();
    const holder_token = holder.body.token as string;
    const deposit = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${holder.body.id}/deposits`, { amount: 10_000 }, { idempotencyKey: 'fund-ann' });
    expect(deposit.status).toBe(201);
    expect(deposit.body).toMatchObject({ amount: 10_000, balance_after: 10_000 });

    // The operator onboards a merchant with a webhook endpoint and a 1 % fee.
    const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', {
      name: 'Corner Coffee',
      currency: 'USD',
      fee_bps: 100,
      webhook_url: receiver.url,
    });
    expect(created.status).toBe(201);
    const merchant = created.body;
    expect(merchant).toMatchObject({ object: 'merchant', fee_bps: 100, webhook_url: receiver.url });
    expect(merchant.api_secret).toBeDefined();
    expect(merchant.webhook_secret).toMatch(/^whsec_/);
    const client = new PaynetClient({
      apiKey: merchant.api_key as string,
      apiSecret: merchant.api_secret as string,
      urls: { merchants: stack.urls.merchants, payments: stack.urls.payments, push: stack.urls.push },
    });

    // Both listen live: the merchant with a stream token, the holder with its account token.
    const { token: stream_token } = await client.createStreamToken(merchant.id);
    const merchant_stream = await StreamClient.open(stack.urls.push, stream_token);
    const holder_stream = await StreamClient.open(stack.urls.push, holder_token);
    streams.push(merchant_stream, holder_stream);
    expect((await StreamClient.refusal(stack.urls.push, 'st_not_a_real_token')).status).toBe(401);

    // The merchant creates the intent (signed, idempotent).
    const intent = await client.createPaymentIntent({ amount: 1_250, currency: 'USD', reference: 'order-42' }, { idempotencyKey: 'order-42' });
    expect(intent).toMatchObject({ status: 'requires_payment', amount: 1_250, currency: 'USD', merchant: merchant.id, amount_received: 0, payer_account: null });
    expect(intent.qr_payload).toContain(intent.id);
    expect(intent.qr_payload).toContain('Corner');
    const created_event = await merchant_stream.waitForEvent('payment_intent.created', intent.id);
    expect(created_event).toMatchObject({ object: 'event', merchant: merchant.id, account: null });

    // The holder pays it.
    const paid = await jsonFetch<PaymentIntentObject>(`${stack.urls.payments}/v1/payment-intents/${intent.id}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${holder_token}`, 'idempotency-key': 'pay-order-42' },
      body: { account: holder.body.id },
    });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'succeeded', amount_received: 1_250, payer_account: holder.body.id });

    // Both hear it live; the holder only about its own payment.
    const succeeded = await merchant_stream.waitForEvent('payment_intent.succeeded', intent.id);
    expect(succeeded).toMatchObject({ merchant: merchant.id, account: holder.body.id });
    await holder_stream.waitForEvent('payment_intent.succeeded', intent.id);
    expect(holder_stream.events.map((event) => event.type)).not.toContain('payment_intent.created');

    // The merchant's endpoint got both events, each signed per Standard Webhooks.
    await waitFor(() => receiver.received.length >= 2, { timeout_ms: 20_000, interval_ms: 50 });
    const verifier = new Webhook(merchant.webhook_secret as string);
    const delivered = receiver.received.map((webhook) => {
      const verified = verifier.verify(webhook.body, webhook.headers as Record<string, string>) as PlatformEvent;
      expect(webhook.headers['webhook-id']).toBe(verified.id);
      return verified;
    });
    expect(delivered.map((event) => event.type).sort()).toEqual(['payment_intent.created', 'payment_intent.succeeded']);
    expect(delivered.find((event) => event.type === 'payment_intent.succeeded')?.id).toBe(succeeded.id);

    // The money moved once: holder down by the amount, merchant up by it less the fee (rounded down).
    const holder_balance = await jsonFetch<BalanceObject>(`${stack.urls.accounts}/v1/accounts/${holder.body.id}/balance`, {
      headers: { authorization: `Bearer ${holder_token}` },
    });
    expect(holder_balance.body).toEqual({ object: 'balance', currency: 'USD', posted: 8_750, pending: 0, available: 8_750 });
    expect(await client.getMerchantBalance(merchant.id)).toEqual({ object: 'balance', currency: 'USD', posted: 1_238, pending: 0, available: 1_238 });
    const verify = await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify');
    expect(verify.body).toEqual({ ok: true, entries_checked: 2, problems: [] });

    // Paying again answers 409 in the API's error shape, and moves nothing.
    const again = await jsonFetch(`${stack.urls.payments}/v1/payment-intents/${intent.id}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${holder_token}`, 'idempotency-key': 'pay-order-42-again' },
      body: { account: holder.body.id },
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'payment_intent_unexpected_state' } });
  });

  it('answers every error in the API shape', async () => {
    const unsigned = await jsonFetch(`${stack.urls.payments}/v1/payment-intents`, { method: 'POST', body: { amount: 1, currency: 'USD', reference: 'x' } });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body).toMatchObject({ error: { type: 'authentication_error' } });

    const merchant = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Errors Ltd', currency: 'EUR' });
    const client = new PaynetClient({
      apiKey: merchant.body.api_key as string,
      apiSecret: merchant.body.api_secret as string,
      urls: { merchants: stack.urls.merchants, payments: stack.urls.payments, push: stack.urls.push },
    });
    const wrong_currency = await client.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'r' }).catch((error: unknown) => error);
    expect(wrong_currency).toBeInstanceOf(PaynetError);
    expect(wrong_currency).toMatchObject({ status: 400, param: 'currency' });
    const float_amount = await client.createPaymentIntent({ amount: 1.5, currency: 'EUR', reference: 'r' }).catch((error: unknown) => error);
    expect(float_amount).toMatchObject({ status: 400, param: 'amount' });
    const missing = await client.retrievePaymentIntent('pi_doesnotexist0000').catch((error: unknown) => error);
    expect(missing).toMatchObject({ status: 404, code: 'resource_missing' });
    const unknown_route = await jsonFetch(`${stack.urls.accounts}/v1/nothing-here`);
    expect(unknown_route.status).toBe(404);
    expect(unknown_route.body).toMatchObject({ error: { type: 'invalid_request_error' } });
  });
});
