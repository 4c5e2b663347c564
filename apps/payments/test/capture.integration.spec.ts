import type { AccountObject, PaymentIntentObject } from '@paynet/contracts';
import { type InProcessStack, waitFor } from '@paynet/testing';
import { balance, blockAccount, eventsAbout, expectLedgerVerifies, feeBalance, holder, merchant, nats_request_timeout_ms, pay, type Shop, usePayments } from './support.js';

/** Long enough for the capture tests (one waits out several timeouts), short enough to wait for in the expiry test. */
const hold_ttl_seconds = 12;

/** Manual capture over real PostgreSQL and NATS: pay holds, capture posts (with the fee), cancel and expiry release. */
describe('manual capture', () => {
  const world = usePayments({
    HOLD_TTL_SECONDS: String(hold_ttl_seconds),
    EXPIRY_SWEEP_INTERVAL_MS: '200',
    NATS_REQUEST_TIMEOUT_MS: String(nats_request_timeout_ms),
  });
  let stack: InProcessStack;
  beforeAll(() => (stack = world.stack));

  async function heldIntent(shop: Shop, payer: AccountObject, amount: number): Promise<PaymentIntentObject> {
    const intent = await shop.createPaymentIntent({ amount, currency: 'USD', reference: `held-${amount}`, capture_method: 'manual' });
    const paid = await pay(stack, intent.id, payer, `pay-${intent.id}`);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'requires_capture', amount_received: 0, payer_account: payer.id });
    return paid.body;
  }

  function eventTypes(object_id: string): Promise<string[]> {
    return eventsAbout(world, object_id).then((events) => events.map((event) => event.type));
  }

  it('holds the money on pay: requires_capture, the amount pending for the payer, nothing posted yet', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await shop.createPaymentIntent({ amount: 300, currency: 'USD', reference: 'hold', capture_method: 'manual' });
    expect(intent).toMatchObject({ status: 'requires_payment', capture_method: 'manual' });
    const paid = await pay(stack, intent.id, payer, 'hold-1');
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'requires_capture', amount_received: 0, payer_account: payer.id });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, pending: 300, available: 700 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 0, available: 0 });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'requires_capture' });
    expect(await eventTypes(intent.id)).toEqual(['payment_intent.created', 'payment_intent.requires_capture']);
    const listed = await shop.listPaymentIntents({ status: 'requires_capture' });
    expect(listed.data.map((listed_intent) => listed_intent.id)).toEqual([intent.id]);
    expect((await shop.listPaymentIntents({ status: 'succeeded' })).data).toHaveLength(0);
    // Paid already: paying again is refused.
    expect((await pay(stack, intent.id, payer, 'hold-2')).status).toBe(409);
  });

  it('captures part of a hold: the merchant gets it less the fee, the fee account the fee, the rest goes back to the payer', async () => {
    const shop = await merchant(stack, 250);
    const payer = await holder(stack, 2_000);
    const fees_before = await feeBalance(stack);
    const intent = await heldIntent(shop, payer, 1_000);
    const captured = await shop.capturePaymentIntent(intent.id, { amount: 600 }, { idempotencyKey: 'cap-part' });
    expect(captured).toMatchObject({ status: 'succeeded', amount: 1_000, amount_received: 600, amount_refunded: 0 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_400, pending: 0, available: 1_400 });
    // 2.5 % of 600 is 15.
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 585, pending: 0, available: 585 });
    expect((await feeBalance(stack)).posted - fees_before.posted).toBe(15);
    expect(await eventTypes(intent.id)).toEqual(['payment_intent.created', 'payment_intent.requires_capture', 'payment_intent.succeeded']);
    const replay = await shop.request('POST', `/v1/payment-intents/${intent.id}/capture`, { amount: 600 }, { idempotencyKey: 'cap-part' });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(captured);
    await expect(shop.capturePaymentIntent(intent.id, { amount: 400 })).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 585 });
    await expectLedgerVerifies(stack);
  });

  it('captures all that is held when no amount is given', async () => {
    const shop = await merchant(stack, 100);
    const payer = await holder(stack, 500);
    const intent = await heldIntent(shop, payer, 500);
    expect(await shop.capturePaymentIntent(intent.id)).toMatchObject({ status: 'succeeded', amount_received: 500 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 0, pending: 0, available: 0 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 495 });
    await expectLedgerVerifies(stack);
  });

  it('refuses captures that cannot be: over the hold (400), not held (409), bad input (400), not its own (404); nothing changes', async () => {
    const [shop, other_shop] = [await merchant(stack), await merchant(stack)];
    const payer = await holder(stack, 1_000);
    const intent = await heldIntent(shop, payer, 400);
    const too_much = await shop.request('POST', `/v1/payment-intents/${intent.id}/capture`, { amount: 401 }, { idempotencyKey: 'cap-401' });
    expect(too_much.status).toBe(400);
    expect(too_much.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'amount_too_large', param: 'amount' } });
    for (const body of [{ amount: 0 }, { amount: 1.5 }, { amount: '10' }, { amount: 10, tip: 1 }]) {
      const bad = await shop.request('POST', `/v1/payment-intents/${intent.id}/capture`, body, { idempotencyKey: `cap-bad-${JSON.stringify(body)}` });
      expect(bad.status).toBe(400);
    }
    const no_key = await shop.request('POST', `/v1/payment-intents/${intent.id}/capture`, {});
    expect(no_key.status).toBe(400);
    expect(no_key.body).toMatchObject({ error: { code: 'idempotency_key_missing' } });
    await expect(other_shop.capturePaymentIntent(intent.id)).rejects.toMatchObject({ status: 404, code: 'resource_missing' });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'requires_capture', amount_received: 0 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, pending: 400 });

    const unpaid = await shop.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'unpaid', capture_method: 'manual' });
    await expect(shop.capturePaymentIntent(unpaid.id)).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });
    const automatic = await shop.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'auto' });
    expect((await pay(stack, automatic.id, payer, 'auto-pay')).body).toMatchObject({ status: 'succeeded' });
    await expect(shop.capturePaymentIntent(automatic.id)).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });
  });

  it('captures once when many captures of one intent arrive at once', async () => {
    const shop = await merchant(stack, 1_000);
    const payer = await holder(stack, 1_000);
    const intent = await heldIntent(shop, payer, 1_000);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, index) => shop.request<PaymentIntentObject>('POST', `/v1/payment-intents/${intent.id}/capture`, {}, { idempotencyKey: `cap-race-${index}` })),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status !== 200 && status !== 409)).toEqual([]);
    expect(statuses).toContain(200);
    for (const answer of answers.filter((candidate) => candidate.status === 200)) expect(answer.body).toMatchObject({ status: 'succeeded', amount_received: 1_000 });
    // 10 % fee: the merchant is credited 900 once, and the payer debited 1,000 once.
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 900 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 0, pending: 0 });
    expect((await eventTypes(intent.id)).filter((type) => type === 'payment_intent.succeeded')).toHaveLength(1);
    await expectLedgerVerifies(stack);
  });

  it('cancels an unpaid intent, and a held one by releasing its hold; a captured or canceled one cannot be canceled', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const unpaid = await shop.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'cancel-unpaid' });
    expect(await shop.cancelPaymentIntent(unpaid.id)).toMatchObject({ status: 'canceled', cancellation_reason: 'requested_by_merchant' });
    expect(await eventTypes(unpaid.id)).toEqual(['payment_intent.created', 'payment_intent.canceled']);
    expect((await pay(stack, unpaid.id, payer, 'pay-canceled')).status).toBe(409);

    const held = await heldIntent(shop, payer, 700);
    expect(await balance(stack, payer)).toMatchObject({ pending: 700, available: 300 });
    // Without an Idempotency-Key, which cancel does not require.
    const canceled = await shop.request<PaymentIntentObject>('POST', `/v1/payment-intents/${held.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'canceled', cancellation_reason: 'requested_by_merchant', amount_received: 0 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, pending: 0, available: 1_000 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 0 });
    expect((await eventTypes(held.id)).at(-1)).toBe('payment_intent.canceled');
    await expect(shop.capturePaymentIntent(held.id)).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });
    await expect(shop.cancelPaymentIntent(held.id)).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });

    const captured = await heldIntent(shop, payer, 200);
    await shop.capturePaymentIntent(captured.id);
    await expect(shop.cancelPaymentIntent(captured.id)).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });
    const unknown_field = await shop.request('POST', `/v1/payment-intents/${captured.id}/cancel`, { reason: 'x' });
    expect(unknown_field.status).toBe(400);
    expect(await balance(stack, payer)).toMatchObject({ posted: 800, pending: 0 });
    await expectLedgerVerifies(stack);
  });

  it('settles a hold placed by a pay whose answer was lost by paying again, holding once', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await shop.createPaymentIntent({ amount: 250, currency: 'USD', reference: 'lost-pay', capture_method: 'manual' });
    const release = await blockAccount(world, payer.id);
    const lost = await pay(stack, intent.id, payer, 'lost-pay-1').finally(release);
    expect(lost.status).toBe(503);
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'processing' });
    // The hold was placed once accounts could go on; paying again re-sends the same hold id.
    await waitFor(async () => (await balance(stack, payer)).pending === 250, { description: 'the blocked hold to be placed' });
    const again = await pay(stack, intent.id, payer, 'lost-pay-2');
    expect(again.body).toMatchObject({ status: 'requires_capture' });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, pending: 250 });
    expect(await shop.capturePaymentIntent(intent.id)).toMatchObject({ status: 'succeeded', amount_received: 250 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 750, pending: 0 });
  });

  it('settles a capture whose answer was lost by capturing again, charging once', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await heldIntent(shop, payer, 800);
    const release = await blockAccount(world, payer.id);
    // The client retries the 503 with the same key; every attempt waits on the blocked account and times out.
    const lost = await shop.request('POST', `/v1/payment-intents/${intent.id}/capture`, { amount: 500 }, { idempotencyKey: 'lost-cap' }).finally(release);
    expect(lost.status).toBe(503);
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'requires_capture', amount_received: 0 });
    // Another amount while that capture's outcome is unknown is refused; the same capture again settles it.
    await expect(shop.capturePaymentIntent(intent.id, { amount: 800 })).rejects.toMatchObject({ status: 409 });
    const settled = await shop.capturePaymentIntent(intent.id, { amount: 500 }, { idempotencyKey: 'lost-cap' });
    expect(settled).toMatchObject({ status: 'succeeded', amount_received: 500 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 500, pending: 0 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 500 });
    expect((await eventTypes(intent.id)).filter((type) => type === 'payment_intent.succeeded')).toHaveLength(1);
    await expectLedgerVerifies(stack);
  });

  it('releases an uncaptured hold when it expires: canceled (expired), the money back, an event; capture is refused after', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await heldIntent(shop, payer, 600);
    expect(await balance(stack, payer)).toMatchObject({ pending: 600 });
    await waitFor(async () => (await eventTypes(intent.id)).includes('payment_intent.canceled'), {
      timeout_ms: (hold_ttl_seconds + 5) * 1_000,
      interval_ms: 250,
      description: 'the hold expiry sweep to cancel the intent',
    });
    const [canceled] = (await eventsAbout(world, intent.id)).filter((event) => event.type === 'payment_intent.canceled');
    expect(canceled?.data.object).toMatchObject({ status: 'canceled', cancellation_reason: 'expired' });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'canceled', cancellation_reason: 'expired', amount_received: 0 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, pending: 0, available: 1_000 });
    await expect(shop.capturePaymentIntent(intent.id)).rejects.toMatchObject({ status: 409, code: 'payment_intent_unexpected_state' });
    expect((await shop.listPaymentIntents({ status: 'canceled' })).data.map((listed) => listed.id)).toContain(intent.id);
    await expectLedgerVerifies(stack);
  });

  it('gives up a capture that accounts could not apply before the hold expired: canceled (expired), nothing charged', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await heldIntent(shop, payer, 400);
    const hold_expired_at_ms = (intent.created + hold_ttl_seconds + 1) * 1_000;
    const release = await blockAccount(world, payer.id);
    try {
      const lost = await shop.request('POST', `/v1/payment-intents/${intent.id}/capture`, {}, { idempotencyKey: 'late-cap' });
      expect(lost.status).toBe(503);
      // A capture was sent: its outcome, not the clock, decides what the intent is.
      expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'requires_capture' });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, hold_expired_at_ms - Date.now())));
    } finally {
      await release();
    }
    await waitFor(async () => (await eventTypes(intent.id)).includes('payment_intent.canceled'), {
      timeout_ms: 15_000,
      interval_ms: 250,
      description: 'the hold expiry sweep to give up the capture and cancel the intent',
    });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'canceled', cancellation_reason: 'expired', amount_received: 0 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, pending: 0 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 0 });
    expect(await eventTypes(intent.id)).not.toContain('payment_intent.succeeded');
    await expectLedgerVerifies(stack);
  });

  it('still cancels an unpaid intent for good when it expires, with its event', async () => {
    const shop = await merchant(stack);
    const intent = await shop.createPaymentIntent({ amount: 10, currency: 'USD', reference: 'late', expires_in: 1 });
    await waitFor(async () => (await eventTypes(intent.id)).includes('payment_intent.canceled'), { timeout_ms: 5_000, description: 'the expiry sweep' });
    const [canceled] = (await eventsAbout(world, intent.id)).filter((event) => event.type === 'payment_intent.canceled');
    expect(canceled?.data.object).toMatchObject({ status: 'canceled', cancellation_reason: 'expired' });
  });
});
