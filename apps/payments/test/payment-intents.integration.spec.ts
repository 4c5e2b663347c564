import type { AccountObject, PaymentIntentObject } from '@paynet/contracts';
import { adminFetch, type InProcessStack, jsonFetch } from '@paynet/testing';
import * as support from './support.js';
import { usePayments } from './support.js';

/** payments in process; accounts and merchants beside it as processes on the same database and NATS prefix. */
describe('payment intents over real PostgreSQL and NATS', () => {
  const world = usePayments({});
  let stack: InProcessStack;
  beforeAll(() => (stack = world.stack));

  const merchant = (currency = 'USD', fee_bps = 0) => support.merchant(stack, fee_bps, currency);
  const holder = (amount: number, currency = 'USD') => support.holder(stack, amount, currency);
  const pay = (intent_id: string, payer: AccountObject, key: string, account = payer.id) => support.payIntent(stack.urls.payments as string, intent_id, payer, key, account);
  const available = (account: AccountObject) => support.availableBalance(stack, account);

  it('creates one intent when the same request is sent many times at once', async () => {
    const shop = await merchant();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => shop.request<PaymentIntentObject>('POST', '/v1/payment-intents', { amount: 500, currency: 'USD', reference: 'dup' }, { idempotencyKey: 'dup-1' })),
    );
    const created = answers.filter((answer) => answer.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((answer) => answer.body.id)).size).toBe(1);
    for (const answer of answers.filter((answer) => answer.status !== 201)) {
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ error: { type: 'idempotency_error', code: 'idempotency_request_in_progress' } });
    }
    const replay = await shop.request('POST', '/v1/payment-intents', { amount: 500, currency: 'USD', reference: 'dup' }, { idempotencyKey: 'dup-1' });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(created[0]?.body);
    expect((await shop.listPaymentIntents()).data).toHaveLength(1);
    const reused = await shop.request('POST', '/v1/payment-intents', { amount: 501, currency: 'USD', reference: 'dup' }, { idempotencyKey: 'dup-1' });
    expect(reused.status).toBe(422);
    expect(reused.body).toMatchObject({ error: { code: 'idempotency_key_reused' } });
  });

  it('declines a payment the wallet cannot cover, records why, and lets the holder pay once funded', async () => {
    const shop = await merchant();
    const payer = await holder(100);
    const intent = await shop.createPaymentIntent({ amount: 150, currency: 'USD', reference: 'poor' });
    const declined = await pay(intent.id, payer, 'try-1');
    expect(declined.status).toBe(402);
    expect(declined.body).toMatchObject({ error: { type: 'payment_error', code: 'insufficient_funds' } });
    const after = await shop.retrievePaymentIntent(intent.id);
    expect(after).toMatchObject({ status: 'requires_payment', amount_received: 0, last_payment_error: { code: 'insufficient_funds' } });
    expect(await available(payer)).toBe(100);
    // The declined answer is stored: the same key replays it, even after funding.
    await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${payer.id}/deposits`, { amount: 100 }, { idempotencyKey: `more-${payer.id}` });
    expect((await pay(intent.id, payer, 'try-1')).status).toBe(402);
    const paid = await pay(intent.id, payer, 'try-2');
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'succeeded', amount_received: 150, last_payment_error: null });
    expect(await available(payer)).toBe(50);
  });

  it('pays an intent only once, even when two holders race for it', async () => {
    const shop = await merchant();
    const [ann, bob] = [await holder(1_000), await holder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 700, currency: 'USD', reference: 'race' });
    const [first, second] = await Promise.all([pay(intent.id, ann, 'race-a'), pay(intent.id, bob, 'race-b')]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    expect((await available(ann)) + (await available(bob))).toBe(1_300);
    const balance = await shop.getMerchantBalance(shop.id);
    expect(balance.posted).toBe(700);
  });

  it('reads an intent canceled (expired) once expires_at has passed, and refuses to pay it', async () => {
    const shop = await merchant();
    const payer = await holder(1_000);
    const intent = await shop.createPaymentIntent({ amount: 10, currency: 'USD', reference: 'late', expires_in: 1 });
    expect(intent.expires_at - intent.created).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'canceled', cancellation_reason: 'expired' });
    const late = await pay(intent.id, payer, 'late-1');
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: { code: 'payment_intent_unexpected_state' } });
    expect(await available(payer)).toBe(1_000);
  });

  it('refuses a payment in another currency with 402 currency_mismatch', async () => {
    const shop = await merchant('USD');
    const payer = await holder(1_000, 'EUR');
    const intent = await shop.createPaymentIntent({ amount: 10, currency: 'USD', reference: 'fx' });
    const answer = await pay(intent.id, payer, 'fx-1');
    expect(answer.status).toBe(402);
    expect(answer.body).toMatchObject({ error: { code: 'currency_mismatch' } });
  });

  it("keeps intents private: another merchant's, another holder's and another's account are 404", async () => {
    const [shop, other_shop] = [await merchant(), await merchant()];
    const [ann, bob] = [await holder(1_000), await holder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 10, currency: 'USD', reference: 'mine' });
    await expect(other_shop.retrievePaymentIntent(intent.id)).rejects.toMatchObject({ status: 404, code: 'resource_missing' });
    expect((await pay(intent.id, bob, 'steal', ann.id)).status).toBe(404);
    expect((await pay(intent.id, ann, 'ok')).status).toBe(200);
    const as_ann = await jsonFetch(`${stack.urls.payments}/v1/payment-intents/${intent.id}`, { headers: { authorization: `Bearer ${ann.token}` } });
    expect(as_ann.status).toBe(200);
    const as_bob = await jsonFetch(`${stack.urls.payments}/v1/payment-intents/${intent.id}`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(as_bob.status).toBe(404);
  });

  it('lists intents newest first with cursor pagination and a status filter', async () => {
    const shop = await merchant();
    const payer = await holder(1_000);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await shop.createPaymentIntent({ amount: 10 + i, currency: 'USD', reference: `r${i}` })).id);
    await pay(ids[1] as string, payer, 'list-pay');
    const first_page = await shop.listPaymentIntents({ limit: 2 });
    expect(first_page.data.map((intent) => intent.id)).toEqual([ids[4], ids[3]]);
    expect(first_page.has_more).toBe(true);
    const last_page = await shop.listPaymentIntents({ limit: 10, starting_after: ids[2] });
    expect(last_page.data.map((intent) => intent.id)).toEqual([ids[1], ids[0]]);
    expect(last_page.has_more).toBe(false);
    expect((await shop.listPaymentIntents({ status: 'succeeded' })).data.map((intent) => intent.id)).toEqual([ids[1]]);
  });

  it('refuses bad input with 400 and creates nothing', async () => {
    const shop = await merchant();
    for (const body of [
      { amount: 0, currency: 'USD', reference: 'x' },
      { amount: 10.5, currency: 'USD', reference: 'x' },
      { amount: '10', currency: 'USD', reference: 'x' },
      { amount: 1_000_000_000_001, currency: 'USD', reference: 'x' },
      { amount: 10, currency: 'USD', reference: 'x', expires_in: 2_592_001 },
      { amount: 10, currency: 'USD', reference: 'x', capture_method: 'later' },
      { amount: 10, currency: 'USD' },
      { amount: 10, currency: 'USD', reference: 'x', tip: 1 },
    ]) {
      const answer = await shop.request('POST', '/v1/payment-intents', body, { idempotencyKey: `bad-${JSON.stringify(body)}` });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { type: 'invalid_request_error' } });
    }
    const missing_key = await shop.request('POST', '/v1/payment-intents', { amount: 10, currency: 'USD', reference: 'x' });
    expect(missing_key.status).toBe(400);
    expect((await shop.listPaymentIntents()).data).toHaveLength(0);
  });
});
