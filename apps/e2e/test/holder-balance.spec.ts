import type { BalanceEventObject, ListResponse, MerchantObject, PlatformEvent } from '@paynet/contracts';
import { PaynetClient } from '@paynet/sdk';
import { adminFetch, createHolder, jsonFetch, type Stack, StreamClient, type TestHolder, waitFor } from '@paynet/testing';
import { useEndToEndWorld } from './world.js';

/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 20_000;

type Step = [posted: number, pending: number, available: number];

/**
 * The holder's balance, live (API.md, Events): a holder with its stream open
 * hears `account.balance_updated` for every change of its wallet (deposit,
 * pay, hold placed, captured or released, refund), each with the balance
 * after it, in order, written by accounts in the change's transaction and
 * published from its outbox; a refused payment says nothing; a crash of
 * accounts right after a commit loses no event and sends none twice.
 */
describe("a holder hears its wallet's balance change, live, through all four services", () => {
  const world = useEndToEndWorld();
  let stack: Stack;
  beforeAll(() => ({ stack } = world));

  async function open(token: string): Promise<StreamClient> {
    const stream = await StreamClient.open(stack.urls.push, token);
    world.streams.push(stream);
    return stream;
  }

  function balanceEvents(stream: StreamClient): PlatformEvent<BalanceEventObject>[] {
    return stream.events.filter((event) => event.type === 'account.balance_updated') as PlatformEvent<BalanceEventObject>[];
  }

  function steps(stream: StreamClient): Step[] {
    return balanceEvents(stream).map(({ data: { object } }) => [object.posted, object.pending, object.available]);
  }

  /** Waits until the holder has heard `count` balance updates; answers the last. */
  async function heard(stream: StreamClient, count: number): Promise<Step> {
    await waitFor(() => steps(stream).length >= count, { timeout_ms, interval_ms: 25, description: `balance update ${count}` });
    return steps(stream)[count - 1] as Step;
  }

  /** The holder's balance updates as GET /v1/events lists them (push), newest first. */
  async function listed(holder: TestHolder): Promise<PlatformEvent[]> {
    const answer = await jsonFetch<ListResponse<PlatformEvent>>(`${stack.urls.push}/v1/events?type=account.balance_updated&limit=100`, {
      headers: { authorization: `Bearer ${holder.token}` },
    });
    expect(answer.status).toBe(200);
    return answer.body.data;
  }

  async function deposit(holder: TestHolder, amount: number, key: string): Promise<void> {
    const answer = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${holder.id}/deposits`, { amount }, { idempotencyKey: key });
    expect(answer.status).toBe(201);
  }

  async function pay(holder: TestHolder, intent_id: string): Promise<{ status: number; body: unknown }> {
    return holder.fetch('POST', `/v1/payment-intents/${intent_id}/pay`, { account: holder.id }, { 'idempotency-key': `pay-${intent_id}` });
  }

  it('tells the holder of a deposit, a pay, a hold placed, captured and released, and a refund, each with its balance, in order', async () => {
    const holder = await createHolder(stack);
    const merchant = (await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Tea Shop', currency: 'USD', fee_bps: 100 })).body;
    const client = new PaynetClient({
      apiKey: merchant.api_key as string,
      apiSecret: merchant.api_secret as string,
      urls: { merchants: stack.urls.merchants, payments: stack.urls.payments, push: stack.urls.push },
    });
    const holder_stream = await open(holder.token);
    const merchant_stream = await open((await client.createStreamToken(merchant.id)).token);

    await deposit(holder, 10_000, `fund-${holder.id}`);
    expect(await heard(holder_stream, 1)).toEqual([10_000, 0, 10_000]);

    const automatic = await client.createPaymentIntent({ amount: 1_250, currency: 'USD', reference: 'tea-1' });
    expect((await pay(holder, automatic.id)).body).toMatchObject({ status: 'succeeded' });
    expect(await heard(holder_stream, 2)).toEqual([8_750, 0, 8_750]);

    const held = await client.createPaymentIntent({ amount: 4_000, currency: 'USD', reference: 'tea-2', capture_method: 'manual' });
    expect((await pay(holder, held.id)).body).toMatchObject({ status: 'requires_capture' });
    expect(await heard(holder_stream, 3)).toEqual([8_750, 4_000, 4_750]);
    // Captured in part: the holder pays 3,000 and gets the other 1,000 back, in one change.
    await client.capturePaymentIntent(held.id, { amount: 3_000 });
    expect(await heard(holder_stream, 4)).toEqual([5_750, 0, 5_750]);

    const canceled = await client.createPaymentIntent({ amount: 1_000, currency: 'USD', reference: 'tea-3', capture_method: 'manual' });
    await pay(holder, canceled.id);
    expect(await heard(holder_stream, 5)).toEqual([5_750, 1_000, 4_750]);
    await client.cancelPaymentIntent(canceled.id);
    expect(await heard(holder_stream, 6)).toEqual([5_750, 0, 5_750]);

    // More than the wallet holds: refused (402), and the balance did not change, so nothing is said.
    const too_much = await client.createPaymentIntent({ amount: 1_000_000, currency: 'USD', reference: 'tea-4' });
    expect(await pay(holder, too_much.id)).toMatchObject({ status: 402, body: { error: { code: 'insufficient_funds' } } });

    const refund = await client.createRefund(automatic.id, { amount: 500 });
    expect(await heard(holder_stream, 7)).toEqual([6_250, 0, 6_250]);

    // Exactly these, in this order, each with the wallet's id and no merchant; what the balance API answers now.
    expect(steps(holder_stream)).toEqual([
      [10_000, 0, 10_000],
      [8_750, 0, 8_750],
      [8_750, 4_000, 4_750],
      [5_750, 0, 5_750],
      [5_750, 1_000, 4_750],
      [5_750, 0, 5_750],
      [6_250, 0, 6_250],
    ]);
    for (const event of balanceEvents(holder_stream)) {
      expect(event).toMatchObject({ object: 'event', merchant: null, account: holder.id, data: { object: { object: 'balance', account: holder.id, currency: 'USD' } } });
    }
    const { currency, posted, pending, available } = (await holder.fetch('GET', `/v1/accounts/${holder.id}/balance`)).body as Record<string, unknown>;
    expect(balanceEvents(holder_stream).at(-1)?.data.object).toEqual({ object: 'balance', account: holder.id, currency, posted, pending, available });

    // The holder can read them back (newest first); the merchant hears of none of them.
    await waitFor(async () => (await listed(holder)).length === 7, { timeout_ms, description: 'push recorded the seven updates' });
    expect((await listed(holder)).map((event) => event.id)).toEqual(balanceEvents(holder_stream).map((event) => event.id).reverse());
    await merchant_stream.waitForEvent('refund.succeeded', refund.id);
    expect(merchant_stream.events.map((event) => event.type)).not.toContain('account.balance_updated');
  });

  it('replays the updates a holder missed while away when it resumes, then goes on live', async () => {
    const holder = await createHolder(stack);
    const first = await open(holder.token);
    await deposit(holder, 100, `away-1-${holder.id}`);
    await heard(first, 1);
    await first.close();
    await deposit(holder, 20, `away-2-${holder.id}`);
    await deposit(holder, 3, `away-3-${holder.id}`);
    await waitFor(async () => (await listed(holder)).length === 3, { timeout_ms, description: 'push has the two missed updates' });

    const back = await open(holder.token);
    back.send({ type: 'resume', after: balanceEvents(first)[0]?.id });
    await waitFor(() => back.others.length === 1, { timeout_ms, description: 'the resumed frame' });
    await deposit(holder, 4_000, `away-4-${holder.id}`);
    expect(await heard(back, 3)).toEqual([4_123, 0, 4_123]);
    expect(steps(back)).toEqual([
      [120, 0, 120],
      [123, 0, 123],
      [4_123, 0, 4_123],
    ]);
    expect(back.others).toEqual([{ type: 'resumed', recovered: true, replayed: 2 }]);
  });

  it('loses no update and sends none twice when accounts crashes right after a commit', async () => {
    const holder = await createHolder(stack);
    const holder_stream = await open(holder.token);
    await deposit(holder, 300, `crash-1-${holder.id}`);
    // Killed the moment the deposit is answered: committed, published or not yet.
    await stack.kill('accounts');
    await stack.restart('accounts');
    await deposit(holder, 200, `crash-2-${holder.id}`);
    expect(await heard(holder_stream, 2)).toEqual([500, 0, 500]);
    expect(steps(holder_stream)).toEqual([
      [300, 0, 300],
      [500, 0, 500],
    ]);
  });
});
