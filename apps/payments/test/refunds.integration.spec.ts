import type { AccountObject, PaymentIntentObject, RefundObject } from '@paynet/contracts';
import { type InProcessStack, waitFor } from '@paynet/testing';
import { balance, blockAccount, eventsAbout, expectLedgerVerifies, feeBalance, holder, merchant, nats_request_timeout_ms, pay, type Shop, usePayments } from './support.js';

const concurrent_refunds = 10;

/** Refunds over real PostgreSQL and NATS: partial and several, never more than received, the fee kept by the platform. */
describe('refunds', () => {
  const world = usePayments({ NATS_REQUEST_TIMEOUT_MS: String(nats_request_timeout_ms), RECONCILE_INTERVAL_MS: '200', RECONCILE_AFTER_MS: String(nats_request_timeout_ms + 500) });
  let stack: InProcessStack;
  beforeAll(() => (stack = world.stack));

  async function paidIntent(shop: Shop, payer: AccountObject, amount: number): Promise<PaymentIntentObject> {
    const intent = await shop.createPaymentIntent({ amount, currency: 'USD', reference: `paid-${amount}` });
    const paid = await pay(stack, intent.id, payer, `pay-${intent.id}`);
    expect(paid.body).toMatchObject({ status: 'succeeded', amount_received: amount });
    return paid.body;
  }

  function refund(shop: Shop, intent_id: string, body: object, key: string) {
    return shop.request<RefundObject>('POST', `/v1/payment-intents/${intent_id}/refunds`, body, { idempotencyKey: key });
  }

  it('refunds part of a payment, then more: the money goes back to the payer, the fee stays with the platform', async () => {
    const shop = await merchant(stack, 100);
    const payer = await holder(stack, 1_000);
    const fees_before = await feeBalance(stack);
    const intent = await paidIntent(shop, payer, 1_000);
    // 1 % fee: the merchant got 990, the platform 10.
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 990 });
    const first = await refund(shop, intent.id, { amount: 400, reason: 'requested_by_customer' }, 're-1');
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      id: expect.stringMatching(/^re_/),
      object: 'refund',
      amount: 400,
      payment_intent: intent.id,
      status: 'succeeded',
      created: expect.any(Number),
      reason: 'requested_by_customer',
    });
    const second = await shop.createRefund(intent.id, { amount: 300 });
    expect(second).not.toHaveProperty('reason');
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'succeeded', amount_received: 1_000, amount_refunded: 700 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 700, available: 700 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 290 });
    expect((await feeBalance(stack)).posted - fees_before.posted).toBe(10);
    const [event] = await eventsAbout(world, first.body.id);
    expect(event).toMatchObject({ type: 'refund.succeeded', merchant: shop.id, account: payer.id, data: { object: first.body } });
    await expectLedgerVerifies(stack);
  });

  it('refuses a refund the merchant cannot cover with 402 insufficient_funds and changes nothing; the rest is refundable once it can', async () => {
    const shop = await merchant(stack, 100);
    const payer = await holder(stack, 2_000);
    const intent = await paidIntent(shop, payer, 1_000);
    // The whole 1,000 back needs 1,000 from the merchant, which holds 990: the fee is not returned.
    const refused = await refund(shop, intent.id, {}, 're-all');
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ error: { type: 'payment_error', code: 'insufficient_funds' } });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ amount_refunded: 0 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 990 });
    const replay = await refund(shop, intent.id, {}, 're-all');
    expect(replay.status).toBe(402);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // Another sale funds the merchant; all of the first payment can now go back.
    await paidIntent(shop, payer, 100);
    const all = await refund(shop, intent.id, {}, 're-all-2');
    expect(all.status).toBe(201);
    expect(all.body).toMatchObject({ amount: 1_000, status: 'succeeded' });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ amount_refunded: 1_000 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 89 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_900 });
    await expectLedgerVerifies(stack);
  });

  it("names no ledger account of the merchant's or the platform's when it refuses a refund or a pay the balance cannot cover", async () => {
    const shop = await merchant(stack, 100);
    const payer = await holder(stack, 1_000);
    const intent = await paidIntent(shop, payer, 1_000);
    const refused = await refund(shop, intent.id, {}, 're-no-ids');
    expect(refused).toMatchObject({ status: 402, body: { error: { code: 'insufficient_funds' } } });
    const poor = await holder(stack, 10);
    const manual = await shop.createPaymentIntent({ amount: 500, currency: 'USD', reference: 'poor-hold', capture_method: 'manual' });
    const unpaid = await shop.createPaymentIntent({ amount: 500, currency: 'USD', reference: 'poor-pay' });
    const declined = [await pay(stack, unpaid.id, poor, 'pay-no-ids'), await pay(stack, manual.id, poor, 'hold-no-ids')];
    for (const answer of declined) expect(answer).toMatchObject({ status: 402, body: { error: { code: 'insufficient_funds' } } });
    // What the merchant and the payer read: the answers, and the reason kept on the intents.
    const messages = [refused.body, ...declined.map((answer) => answer.body)].map((body) => (body as unknown as { error: { message: string } }).error.message);
    for (const id of [unpaid.id, manual.id]) messages.push(((await shop.retrievePaymentIntent(id)).last_payment_error as { message: string }).message);
    const internal: { id: string }[] = (await world.database.query(`SELECT id FROM accounts.ledger_accounts WHERE kind <> 'wallet'`)).rows;
    const merchant_account: { account_id: string }[] = (await world.database.query('SELECT account_id FROM merchants.merchants WHERE id = $1', [shop.id])).rows;
    expect(internal.map((row) => row.id)).toEqual(expect.arrayContaining([merchant_account[0]?.account_id, 'acct_feesUSD']));
    for (const message of messages) {
      expect(message).toEqual(expect.any(String));
      for (const { id } of internal) expect(message).not.toContain(id);
    }
  });

  it('refuses refunds over what is left (400), of unpaid intents (409), bad input (400) and of another merchant (404)', async () => {
    const [shop, other_shop] = [await merchant(stack), await merchant(stack)];
    const payer = await holder(stack, 1_000);
    const intent = await paidIntent(shop, payer, 500);
    expect((await refund(shop, intent.id, { amount: 200 }, 'left-1')).status).toBe(201);
    const over = await refund(shop, intent.id, { amount: 301 }, 'left-2');
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'amount_too_large', param: 'amount' } });
    for (const body of [{ amount: 0 }, { amount: -5 }, { amount: 2.5 }, { amount: '10' }, { amount: 10, currency: 'USD' }, { reason: '' }]) {
      const bad = await refund(shop, intent.id, body, `bad-${JSON.stringify(body)}`);
      expect(bad.status).toBe(400);
    }
    const no_key = await shop.request('POST', `/v1/payment-intents/${intent.id}/refunds`, { amount: 1 });
    expect(no_key.body).toMatchObject({ error: { code: 'idempotency_key_missing' } });
    expect((await refund(other_shop, intent.id, { amount: 1 }, 'foreign')).status).toBe(404);
    expect((await refund(shop, 'pi_doesnotexist0000', { amount: 1 }, 'missing')).status).toBe(404);
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ amount_refunded: 200 });
    // What is left is refundable exactly; then nothing is.
    expect((await refund(shop, intent.id, {}, 'left-3')).body).toMatchObject({ amount: 300 });
    expect((await refund(shop, intent.id, {}, 'left-4')).body).toMatchObject({ error: { code: 'amount_too_large' } });

    const unpaid = await shop.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'unpaid' });
    const not_paid = await refund(shop, unpaid.id, { amount: 10 }, 'unpaid');
    expect(not_paid.status).toBe(409);
    expect(not_paid.body).toMatchObject({ error: { code: 'payment_intent_unexpected_state' } });
    const held = await shop.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'held', capture_method: 'manual' });
    expect((await pay(stack, held.id, payer, 'pay-held')).body).toMatchObject({ status: 'requires_capture' });
    expect((await refund(shop, held.id, { amount: 10 }, 'held')).status).toBe(409);
    // Captured in part: only what was captured can go back.
    await shop.capturePaymentIntent(held.id, { amount: 60 });
    expect((await refund(shop, held.id, { amount: 61 }, 'held-2')).status).toBe(400);
    expect((await refund(shop, held.id, {}, 'held-3')).body).toMatchObject({ amount: 60 });
    await expectLedgerVerifies(stack);
  });

  it('never refunds more than was received, even when many refunds arrive at once', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await paidIntent(shop, payer, 1_000);
    const answers = await Promise.all(
      Array.from({ length: concurrent_refunds }, (_, index) => refund(shop, intent.id, { amount: 300 }, `race-${index}`)),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([...Array(3).fill(201), ...Array(concurrent_refunds - 3).fill(400)]);
    for (const answer of answers.filter((candidate) => candidate.status === 400)) expect(answer.body).toMatchObject({ error: { code: 'amount_too_large' } });
    expect(new Set(answers.filter((answer) => answer.status === 201).map((answer) => answer.body.id)).size).toBe(3);
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ amount_received: 1_000, amount_refunded: 900 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 900 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 100 });
    await expectLedgerVerifies(stack);
  });

  it('answers a repeated refund request from its Idempotency-Key and never refunds twice', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await paidIntent(shop, payer, 500);
    const first = await refund(shop, intent.id, { amount: 100 }, 'once');
    const again = await refund(shop, intent.id, { amount: 100 }, 'once');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const reused = await refund(shop, intent.id, { amount: 200 }, 'once');
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ error: { code: 'idempotency_key_reused' } });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ amount_refunded: 100 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 600 });
  });

  it('keeps a refund whose answer was lost pending, and settles it once by sending the same transfer again', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const intent = await paidIntent(shop, payer, 800);
    const release = await blockAccount(world, payer.id);
    // The client retries the 503 with the same key; each attempt resumes the same pending refund and times out again.
    const lost = await refund(shop, intent.id, { amount: 350 }, 'lost').finally(release);
    expect(lost.status).toBe(503);
    // The reconciler (or accounts, applying the transfer that waited) settles it once accounts can go on.
    await waitFor(async () => (await shop.retrievePaymentIntent(intent.id)).amount_refunded === 350, {
      timeout_ms: 10_000,
      description: 'the reconciler to settle the pending refund',
    });
    expect(await balance(stack, payer)).toMatchObject({ posted: 550 });
    expect(await shop.getMerchantBalance(shop.id)).toMatchObject({ posted: 450 });
    // The same request again answers that refund, not a new one.
    const retried = await refund(shop, intent.id, { amount: 350 }, 'lost');
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ amount: 350, status: 'succeeded' });
    const events = await eventsAbout(world, retried.body.id);
    expect(events.map((event) => event.type)).toEqual(['refund.succeeded']);
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ amount_refunded: 350 });
    expect(await balance(stack, payer)).toMatchObject({ posted: 550 });
    // Reserved no longer: the rest can be refunded.
    expect((await refund(shop, intent.id, {}, 'rest')).body).toMatchObject({ amount: 450 });
    await expectLedgerVerifies(stack);
  });
});
