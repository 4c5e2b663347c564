import type { PaymentIntentObject } from '@paynet/contracts';
import { createHolder, createMerchant, type FetchResult, holderBalance, type InProcessStack, type TestHolder, type TestMerchant } from '@paynet/testing';
import { usePayments } from './support.js';

/** Two merchants and two holders; `shop`'s intents: one open, one paid by `ann`, one `ann` paid with its hold not yet captured. */
interface World {
  shop: TestMerchant;
  other_shop: TestMerchant;
  ann: TestHolder;
  bob: TestHolder;
  open: PaymentIntentObject;
  paid: PaymentIntentObject;
  held: PaymentIntentObject;
}

const held_amount = 400;

interface Refusal {
  status: number;
  type: string;
  code: string;
}
/** Someone else's object: 404, as if it did not exist (API.md). */
const missing: Refusal = { status: 404, type: 'invalid_request_error', code: 'resource_missing' };
/**
 * A merchant-only endpoint called with a holder's token: 403 before any
 * intent is looked at, so the answer is the same for the holder's own
 * payment as for an id that does not exist, and says nothing of the intent.
 */
const not_for_holders: Refusal = { status: 403, type: 'permission_error', code: 'forbidden' };

/**
 * A principal sees only its own objects (API.md): someone else's intent
 * answers 404, as if it did not exist, and the request changes nothing.
 * One row per endpoint and outsider; a new endpoint adds its rows here.
 */
const outsider_requests: { name: string; refusal: Refusal; send(world: World): Promise<FetchResult<unknown>> }[] = [
  { name: 'retrieve an open intent as another merchant', refusal: missing, send: ({ other_shop, open }) => other_shop.raw('GET', `/v1/payment-intents/${open.id}`) },
  { name: 'retrieve a paid intent as another merchant', refusal: missing, send: ({ other_shop, paid }) => other_shop.raw('GET', `/v1/payment-intents/${paid.id}`) },
  { name: 'retrieve a paid intent as a holder who did not pay it', refusal: missing, send: ({ bob, paid }) => bob.fetch('GET', `/v1/payment-intents/${paid.id}`) },
  { name: 'retrieve an open intent as a holder (nobody paid it yet)', refusal: missing, send: ({ bob, open }) => bob.fetch('GET', `/v1/payment-intents/${open.id}`) },
  {
    name: "pay with someone else's account id",
    refusal: missing,
    send: ({ bob, ann, open }) => bob.fetch('POST', `/v1/payment-intents/${open.id}/pay`, { account: ann.id }, { 'idempotency-key': 'steal-1' }),
  },
  {
    name: 'pay with an account id that does not exist',
    refusal: missing,
    send: ({ bob, open }) => bob.fetch('POST', `/v1/payment-intents/${open.id}/pay`, { account: 'acct_missing' }, { 'idempotency-key': 'ghost-1' }),
  },
  {
    name: 'capture a held intent as another merchant',
    refusal: missing,
    send: ({ other_shop, held }) => other_shop.raw('POST', `/v1/payment-intents/${held.id}/capture`, '{}', { 'idempotency-key': 'x-capture' }),
  },
  { name: 'cancel an open intent as another merchant', refusal: missing, send: ({ other_shop, open }) => other_shop.raw('POST', `/v1/payment-intents/${open.id}/cancel`) },
  { name: 'cancel a held intent as another merchant', refusal: missing, send: ({ other_shop, held }) => other_shop.raw('POST', `/v1/payment-intents/${held.id}/cancel`) },
  {
    name: 'refund a paid intent as another merchant',
    refusal: missing,
    send: ({ other_shop, paid }) => other_shop.raw('POST', `/v1/payment-intents/${paid.id}/refunds`, '{}', { 'idempotency-key': 'x-refund' }),
  },
  {
    name: 'capture a held intent as the holder who paid it',
    refusal: not_for_holders,
    send: ({ ann, held }) => ann.fetch('POST', `/v1/payment-intents/${held.id}/capture`, {}, { 'idempotency-key': 'h-capture' }),
  },
  { name: 'cancel a held intent as the holder who paid it', refusal: not_for_holders, send: ({ ann, held }) => ann.fetch('POST', `/v1/payment-intents/${held.id}/cancel`) },
  { name: 'cancel an open intent as a holder', refusal: not_for_holders, send: ({ bob, open }) => bob.fetch('POST', `/v1/payment-intents/${open.id}/cancel`) },
  {
    name: 'refund a paid intent as the holder who paid it',
    refusal: not_for_holders,
    send: ({ ann, paid }) => ann.fetch('POST', `/v1/payment-intents/${paid.id}/refunds`, {}, { 'idempotency-key': 'h-refund' }),
  },
  {
    name: 'capture an intent that does not exist as a holder',
    refusal: not_for_holders,
    send: ({ ann }) => ann.fetch('POST', '/v1/payment-intents/pi_missing/capture', {}, { 'idempotency-key': 'h-missing' }),
  },
];

describe('payments keeps each principal to its own objects', () => {
  const world = usePayments({});
  let stack: InProcessStack;
  beforeAll(() => (stack = world.stack));

  async function makeWorld(): Promise<World> {
    const [shop, other_shop] = [await createMerchant(stack), await createMerchant(stack)];
    const [ann, bob] = [await createHolder(stack, { amount: 1_000 }), await createHolder(stack, { amount: 1_000 })];
    const open = await shop.client.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'open' });
    const to_pay = await shop.client.createPaymentIntent({ amount: 200, currency: 'USD', reference: 'paid' });
    const paid = await ann.fetch('POST', `/v1/payment-intents/${to_pay.id}/pay`, { account: ann.id }, { 'idempotency-key': 'setup-pay' });
    expect(paid.status).toBe(200);
    const to_hold = await shop.client.createPaymentIntent({ amount: held_amount, currency: 'USD', reference: 'held', capture_method: 'manual' });
    const held = await ann.fetch('POST', `/v1/payment-intents/${to_hold.id}/pay`, { account: ann.id }, { 'idempotency-key': 'setup-hold' });
    expect(held).toMatchObject({ status: 200, body: { status: 'requires_capture' } });
    await other_shop.client.createPaymentIntent({ amount: 300, currency: 'USD', reference: 'theirs' });
    return { shop, other_shop, ann, bob, open, paid: paid.body as PaymentIntentObject, held: held.body as PaymentIntentObject };
  }

  /** What any of these requests could have changed, as the owners read it. */
  async function state(world: World): Promise<unknown> {
    return {
      shop_intents: (await world.shop.client.listPaymentIntents({ limit: 100 })).data,
      other_intents: (await world.other_shop.client.listPaymentIntents({ limit: 100 })).data,
      shop_balance: await world.shop.client.getMerchantBalance(world.shop.id),
      ann: await holderBalance(world.ann),
      bob: await holderBalance(world.bob),
    };
  }

  it.each(outsider_requests)('$name: $refusal.status, and nothing changes', async ({ refusal, send }) => {
    const world = await makeWorld();
    const before = await state(world);
    // What the state must show, before and after: ann's hold pending, nothing captured or refunded.
    expect(before).toMatchObject({
      ann: { pending: held_amount },
      shop_intents: expect.arrayContaining([
        expect.objectContaining({ id: world.held.id, status: 'requires_capture', amount_received: 0 }),
        expect.objectContaining({ id: world.paid.id, status: 'succeeded', amount_refunded: 0 }),
        expect.objectContaining({ id: world.open.id, status: 'requires_payment' }),
      ]),
    });
    const answer = await send(world);
    const { status, ...error } = refusal;
    expect({ status: answer.status, body: answer.body }).toMatchObject({ status, body: { error: { ...error, message: expect.any(String) } } });
    expect(await state(world)).toEqual(before);
  });

  it("lists only the merchant's own intents, and treats another's id as a cursor like one that does not exist", async () => {
    const world = await makeWorld();
    const own = await world.other_shop.client.listPaymentIntents({ limit: 100 });
    expect(own.data.map((intent) => intent.reference)).toEqual(['theirs']);
    expect(own.data.every((intent) => intent.merchant === world.other_shop.id)).toBe(true);
    for (const status of ['requires_payment', 'succeeded']) {
      const filtered = await world.other_shop.raw('GET', `/v1/payment-intents?status=${status}&limit=100`);
      const ids = (filtered.body as { data: PaymentIntentObject[] }).data.map((intent) => intent.id);
      expect(ids).not.toContain(world.open.id);
      expect(ids).not.toContain(world.paid.id);
    }
    const foreign = await world.other_shop.raw('GET', `/v1/payment-intents?starting_after=${world.open.id}`);
    const missing = await world.other_shop.raw('GET', '/v1/payment-intents?starting_after=pi_missing');
    expect(foreign.status).toBe(missing.status);
    expect((foreign.body as { error: { code: string; param: string } }).error).toMatchObject({
      code: (missing.body as { error: { code: string } }).error.code,
      param: 'starting_after',
    });
  });

  it('still shows the owners their intents: the merchant both, the payer the one it paid', async () => {
    const world = await makeWorld();
    expect((await world.shop.raw('GET', `/v1/payment-intents/${world.open.id}`)).status).toBe(200);
    expect((await world.shop.raw('GET', `/v1/payment-intents/${world.paid.id}`)).status).toBe(200);
    const as_payer = await world.ann.fetch('GET', `/v1/payment-intents/${world.paid.id}`);
    expect(as_payer).toMatchObject({ status: 200, body: { id: world.paid.id, payer_account: world.ann.id } });
  });

  it('lets the owning merchant capture, refund and cancel them (the refusals above are for outsiders alone)', async () => {
    const world = await makeWorld();
    const captured = await world.shop.raw('POST', `/v1/payment-intents/${world.held.id}/capture`, '{}', { 'idempotency-key': 'own-capture' });
    expect(captured).toMatchObject({ status: 200, body: { status: 'succeeded', amount_received: held_amount } });
    const refunded = await world.shop.raw('POST', `/v1/payment-intents/${world.paid.id}/refunds`, '{}', { 'idempotency-key': 'own-refund' });
    expect(refunded).toMatchObject({ status: 201, body: { status: 'succeeded', amount: world.paid.amount } });
    const canceled = await world.shop.raw('POST', `/v1/payment-intents/${world.open.id}/cancel`);
    expect(canceled).toMatchObject({ status: 200, body: { status: 'canceled', cancellation_reason: 'requested_by_merchant' } });
  });
});
