import type { AccountObject, PaymentIntentObject } from '@paynet/contracts';
import type { PaynetClient } from '@paynet/sdk';
import { adminFetch, createMerchant, holdRowLocks, type HeldRowLocks, type InProcessStack, jsonFetch, sleep, type TestMerchant, waitFor } from '@paynet/testing';
import { DataSource } from 'typeorm';
import { Reconciler } from '../src/reconciler/reconciler.js';
import * as support from './support.js';
import { usePayments } from './support.js';

const request_timeout_ms = 1_000;
const reconcile_after_ms = 2_500;
const settled_within_ms = 20_000;

/**
 * Unknown outcomes, for real: payments in process with a short request
 * timeout; accounts and merchants as processes. A held lock on the payer's
 * balance row stops accounts midway through the transfer at a chosen point;
 * then accounts is paused (SIGSTOP), crashed (SIGKILL) or left slow, so pay
 * gets no answer in time and the reconciler has to settle the intent.
 */
describe('the reconciler settles payments whose ledger answer was lost', () => {
  const world = usePayments({
    NATS_REQUEST_TIMEOUT_MS: String(request_timeout_ms),
    RECONCILE_AFTER_MS: String(reconcile_after_ms),
    RECONCILE_INTERVAL_MS: '200',
  });
  let stack: InProcessStack;
  beforeAll(() => (stack = world.stack));

  const merchant = () => support.merchant(stack);
  const fundedHolder = (amount: number) => support.holder(stack, amount);

  async function deposit(account: AccountObject, amount: number, key: string): Promise<void> {
    const answer = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${account.id}/deposits`, { amount }, { idempotencyKey: key });
    expect(answer.status).toBe(201);
  }

  function pay(intent_id: string, payer: AccountObject, key: string) {
    return jsonFetch<PaymentIntentObject & { error?: { type: string; code: string; message: string } }>(
      `${stack.urls.payments}/v1/payment-intents/${intent_id}/pay`,
      { method: 'POST', headers: { authorization: `Bearer ${payer.token}`, 'idempotency-key': key }, body: { account: payer.id } },
    );
  }

  /** Accounts will stop at the payer's balance row: a transfer debiting it waits until release(). */
  function lockBalanceOf(payer: AccountObject): Promise<HeldRowLocks> {
    return holdRowLocks(stack.databaseUrl, 'SELECT 1 FROM accounts.balances WHERE account_id = $1 FOR UPDATE', [payer.id]);
  }

  function waitForStatus(shop: PaynetClient, intent_id: string, status: string): Promise<PaymentIntentObject> {
    return waitFor(
      async () => {
        const intent = await shop.retrievePaymentIntent(intent_id);
        return intent.status === status && intent;
      },
      { timeout_ms: settled_within_ms, interval_ms: 100, description: `${intent_id} ${status}` },
    );
  }

  const balanceOf = (account: AccountObject) => support.balance(stack, account);


  /** The payer's statement lines for one intent, as the holder reads them. */
  async function statementLines(payer: AccountObject, intent_id: string): Promise<{ amount: number }[]> {
    const answer = await jsonFetch<{ data: { amount: number; payment_intent?: string }[] }>(
      `${stack.urls.accounts}/v1/accounts/${payer.id}/transactions?limit=100`,
      { headers: { authorization: `Bearer ${payer.token}` } },
    );
    expect(answer.status).toBe(200);
    return answer.body.data.filter((line) => line.payment_intent === intent_id);
  }

  const ledgerVerifies = () => support.expectLedgerVerifies(stack);


  /** Events of `type` about one intent waiting in payments' outbox (published or not): each state change is recorded once. */
  async function eventsAbout(intent_id: string, type: string): Promise<number> {
    const payments = stack.apps.payments?.get(DataSource) as DataSource;
    const rows: { count: number }[] = await payments.query(
      `SELECT count(*)::int AS count FROM outbox WHERE type = $1 AND payload::jsonb #>> '{data,object,id}' = $2`,
      [type, intent_id],
    );
    return rows[0]?.count ?? 0;
  }

  /** The counter on payments' GET /metrics. */
  async function settlements(outcome: string, step: string): Promise<number> {
    const metrics = await jsonFetch<string>(`${stack.urls.payments}/metrics`);
    const line = metrics.body
      .split('\n')
      .find((text) => text.startsWith('paynet_payment_reconciler_settlements_total{') && text.includes(`outcome="${outcome}"`) && text.includes(`step="${step}"`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  }

  async function expectChargedOnce(payer: AccountObject, shop: PaynetClient & { id: string }, intent_id: string, amount: number, funded: number) {
    expect(await balanceOf(payer)).toMatchObject({ posted: funded - amount, available: funded - amount });
    expect(await statementLines(payer, intent_id)).toEqual([expect.objectContaining({ amount: -amount })]);
    expect((await shop.getMerchantBalance(shop.id)).posted).toBe(amount);
    await ledgerVerifies();
    expect(await eventsAbout(intent_id, 'payment_intent.succeeded')).toBe(1);
  }

  /** Pay while accounts is stuck midway through the transfer; `fault` runs once it is; pay answers 503 after the timeout. */
  async function payIntoFault(intent_id: string, payer: AccountObject, key: string, fault: () => Promise<void> | void) {
    const lock = await lockBalanceOf(payer);
    const paying = pay(intent_id, payer, key);
    await lock.untilSomeoneWaits({ stopping: paying });
    await fault();
    await lock.release();
    expectLedgerUnavailable(await paying);
  }

  function expectLedgerUnavailable(answer: Awaited<ReturnType<typeof pay>>): void {
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({ type: 'api_error', code: 'ledger_unavailable' });
    expect(answer.body.error?.message).toMatch(/processing.*same request again is safe/);
    expect(answer.headers.get('idempotent-replayed')).toBeNull();
  }

  it('accounts hangs during pay: 503, processing; once resumed the reconciler finds the transfer applied and records one success', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 400, currency: 'USD', reference: 'hung' });
    const found_before = await settlements('applied', 'lookup');

    await payIntoFault(intent.id, payer, 'hung-1', () => stack.neighbours.pause('accounts'));
    // Answered by payments alone (the merchant is authenticated by merchants): the outcome is not known yet.
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'processing', amount_received: 0, payer_account: payer.id });
    stack.neighbours.resume('accounts'); // the transfer it was in the middle of commits now; its reply has no one to go to

    expect(await waitForStatus(shop, intent.id, 'succeeded')).toMatchObject({ amount_received: 400, last_payment_error: null });
    await expectChargedOnce(payer, shop, intent.id, 400, 1_000);
    expect(await settlements('applied', 'lookup')).toBe(found_before + 1);
  });

  it('a manual-capture pay whose hold answer was lost: the reconciler finds the hold and the intent awaits capture, held once', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 300, currency: 'USD', reference: 'held', capture_method: 'manual' });
    const found_before = await settlements('applied', 'lookup');

    // Accounts is slow, not stopped: the hold is placed once the lock goes, after pay has given up waiting.
    await payIntoFault(intent.id, payer, 'held-1', () => sleep(request_timeout_ms + 500));
    expect(await waitForStatus(shop, intent.id, 'requires_capture')).toMatchObject({ amount_received: 0, payer_account: payer.id });
    expect(await settlements('applied', 'lookup')).toBe(found_before + 1);
    expect(await balanceOf(payer)).toMatchObject({ posted: 1_000, available: 700 });
    expect(await eventsAbout(intent.id, 'payment_intent.requires_capture')).toBe(1);

    const captured = await shop.capturePaymentIntent(intent.id, { amount: 300 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 300 });
    expect(await balanceOf(payer)).toMatchObject({ posted: 700, available: 700 });
    await ledgerVerifies();
  });

  it('a cancel whose void answer was lost: the reconciler voids again and the intent is canceled once, the money released', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 200, currency: 'USD', reference: 'void-lost', capture_method: 'manual' });
    expect((await pay(intent.id, payer, 'void-lost-pay')).body).toMatchObject({ status: 'requires_capture' });
    const settled_before = await settlements('applied', 'hold_action');

    // The void waits on the payer's balance row until the cancel has given up; then it applies, its answer lost.
    const lock = await lockBalanceOf(payer);
    const canceling = shop.request('POST', `/v1/payment-intents/${intent.id}/cancel`, undefined);
    await lock.untilSomeoneWaits({ stopping: canceling });
    await sleep(request_timeout_ms + 500);
    await lock.release();
    expect((await canceling).status).toBe(503);

    expect(await waitForStatus(shop, intent.id, 'canceled')).toMatchObject({ cancellation_reason: 'requested_by_merchant', amount_received: 0 });
    expect(await settlements('applied', 'hold_action')).toBe(settled_before + 1);
    expect(await balanceOf(payer)).toMatchObject({ posted: 1_000, available: 1_000 });
    expect(await eventsAbout(intent.id, 'payment_intent.canceled')).toBe(1);
    await ledgerVerifies();
  });

  it('accounts crashes before applying the transfer: once it is back, the reconciler re-sends it and it applies once', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 250, currency: 'USD', reference: 'crash' });
    const resent_before = await settlements('applied', 'resend');
    const unknown_before = await settlements('unknown', 'lookup');

    // Killed while waiting for the lock: its transaction dies uncommitted, the command is lost with it.
    await payIntoFault(intent.id, payer, 'crash-1', () => stack.neighbours.kill('accounts'));
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'processing' });
    await sleep(reconcile_after_ms + 500); // the reconciler's passes meanwhile get no answer and leave it processing
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'processing' });
    expect(await settlements('unknown', 'lookup')).toBeGreaterThan(unknown_before);
    await stack.neighbours.restart('accounts');

    expect(await waitForStatus(shop, intent.id, 'succeeded')).toMatchObject({ amount_received: 250 });
    await expectChargedOnce(payer, shop, intent.id, 250, 1_000);
    expect(await settlements('applied', 'resend')).toBe(resent_before + 1);
  });

  it('charges once when the holder re-sends the pay with the same key while the reconciler settles it', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 300, currency: 'USD', reference: 'race' });
    // Accounts is slow: the transfer waits behind the lock, pay answers 503 (not stored: the key is free again).
    const lock = await lockBalanceOf(payer);
    const sent_at = Date.now();
    expectLedgerUnavailable(await pay(intent.id, payer, 'race-1'));
    await sleep(Math.max(0, sent_at + reconcile_after_ms - Date.now())); // stuck from now on

    // The reconciler (this pass, or the periodic one) and the holder's re-send both find the transfer not
    // applied yet and send it again; both commands wait behind the first; released, all three answers come
    // at once, and both settlers try to record the success together.
    const reconciler = stack.apps.payments?.get(Reconciler) as Reconciler;
    const racing = Promise.all([pay(intent.id, payer, 'race-1'), reconciler.sweepOnce()]);
    await sleep(300);
    await lock.release();
    const [resent] = await racing;
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ id: intent.id, status: 'succeeded', amount_received: 300 });
    expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'succeeded', amount_received: 300 });
    await expectChargedOnce(payer, shop, intent.id, 300, 1_000);
  });

  it('a pay re-sent with the same key once the reconciler settled it answers the settled intent, not 409; charged once', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 350, currency: 'USD', reference: 'settled-then-resent' });

    // Accounts is slow: the transfer applies after pay gave up (503); the reconciler then records the success.
    await payIntoFault(intent.id, payer, 'resent-1', () => sleep(request_timeout_ms + 500));
    await waitForStatus(shop, intent.id, 'succeeded');

    const resent = await pay(intent.id, payer, 'resent-1');
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ id: intent.id, status: 'succeeded', amount_received: 350, payer_account: payer.id });
    // That answer is now the key's: sent again, it is replayed as stored.
    const again = await pay(intent.id, payer, 'resent-1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(resent.body);
    // Another key is another request: the intent is paid already.
    const other = await pay(intent.id, payer, 'resent-2');
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'payment_intent_unexpected_state' });
    await expectChargedOnce(payer, shop, intent.id, 350, 1_000);
  });

  it('a manual-capture pay re-sent with the same key once its hold was found answers requires_capture, held once', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const intent = await shop.createPaymentIntent({ amount: 150, currency: 'USD', reference: 'held-then-resent', capture_method: 'manual' });
    await payIntoFault(intent.id, payer, 'held-resent-1', () => sleep(request_timeout_ms + 500));
    await waitForStatus(shop, intent.id, 'requires_capture');

    const resent = await pay(intent.id, payer, 'held-resent-1');
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ id: intent.id, status: 'requires_capture', amount_received: 0, payer_account: payer.id });
    expect(await balanceOf(payer)).toMatchObject({ posted: 1_000, available: 850 });
    expect(await eventsAbout(intent.id, 'payment_intent.requires_capture')).toBe(1);
    await ledgerVerifies();
  });

  /** A hold action (capture or cancel) signed as `shop`, with an Idempotency-Key and no retry: the first answer is the test's. */
  function holdAction(shop: TestMerchant, intent_id: string, action: 'capture' | 'cancel', key: string, body?: object) {
    const headers: Record<string, string> = { 'idempotency-key': key };
    if (body) headers['content-type'] = 'application/json';
    return shop.raw('POST', `/v1/payment-intents/${intent_id}/${action}`, body && JSON.stringify(body), headers);
  }

  /** A manual-capture intent of `shop`, paid: the payer's money is held for it. */
  async function heldIntent(shop: TestMerchant, payer: AccountObject, amount: number, reference: string): Promise<PaymentIntentObject> {
    const intent = await shop.client.createPaymentIntent({ amount, currency: 'USD', reference, capture_method: 'manual' });
    expect((await pay(intent.id, payer, `${reference}-pay`)).body).toMatchObject({ status: 'requires_capture' });
    return intent;
  }

  /** `send` while accounts is stuck on the payer's balance row past payments' timeout: 503, the action applied after it. */
  async function answerLost(payer: AccountObject, send: () => Promise<{ status: number }>): Promise<void> {
    const lock = await lockBalanceOf(payer);
    const sending = send();
    await lock.untilSomeoneWaits({ stopping: sending });
    await sleep(request_timeout_ms + 500);
    await lock.release();
    expect((await sending).status).toBe(503);
  }

  it('a capture re-sent with the same key once the reconciler posted it answers the captured intent, not 409; captured once', async () => {
    const [shop, payer] = [await createMerchant(stack), await fundedHolder(1_000)];
    const intent = await heldIntent(shop, payer, 300, 'capture-resent');
    const capture = (key: string) => holdAction(shop, intent.id, 'capture', key, { amount: 300 });

    await answerLost(payer, () => capture('capture-resent-1'));
    await waitForStatus(shop.client, intent.id, 'succeeded');

    const resent = await capture('capture-resent-1');
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ id: intent.id, status: 'succeeded', amount_received: 300 });
    const again = await capture('capture-resent-1');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(resent.body);
    // Another key is another capture: the intent is captured already.
    const other = await capture('capture-resent-2');
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: { code: 'payment_intent_unexpected_state' } });
    expect(await balanceOf(payer)).toMatchObject({ posted: 700, available: 700 });
    expect(await eventsAbout(intent.id, 'payment_intent.succeeded')).toBe(1);
    await ledgerVerifies();
  });

  it('a cancel re-sent with the same key once the reconciler voided the hold answers the canceled intent, not 409; released once', async () => {
    const [shop, payer] = [await createMerchant(stack), await fundedHolder(1_000)];
    const intent = await heldIntent(shop, payer, 200, 'cancel-resent');
    const cancel = (key: string) => holdAction(shop, intent.id, 'cancel', key);

    await answerLost(payer, () => cancel('cancel-resent-1'));
    await waitForStatus(shop.client, intent.id, 'canceled');

    const resent = await cancel('cancel-resent-1');
    expect(resent.status).toBe(200);
    expect(resent.body).toMatchObject({ id: intent.id, status: 'canceled', cancellation_reason: 'requested_by_merchant' });
    const other = await cancel('cancel-resent-2');
    expect(other.status).toBe(409);
    expect(await balanceOf(payer)).toMatchObject({ posted: 1_000, available: 1_000 });
    expect(await eventsAbout(intent.id, 'payment_intent.canceled')).toBe(1);
    await ledgerVerifies();
  });

  it('leaves a refused attempt alone: nothing is outstanding, so no pass claims it again', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(100)];
    const intents = [
      await shop.createPaymentIntent({ amount: 300, currency: 'USD', reference: 'poor-auto' }),
      await shop.createPaymentIntent({ amount: 300, currency: 'USD', reference: 'poor-manual', capture_method: 'manual' }),
    ];
    const payments = stack.apps.payments?.get(DataSource) as DataSource;
    for (const intent of intents) {
      expect((await pay(intent.id, payer, `poor-${intent.id}`)).status).toBe(402);
      // Long past RECONCILE_AFTER_MS: a claim would move attempt_sent_at to now.
      await payments.query(`UPDATE payment_intents SET attempt_sent_at = now() - interval '1 hour' WHERE id = $1`, [intent.id]);
    }
    await (stack.apps.payments?.get(Reconciler) as Reconciler).sweepOnce();
    const rows: { id: string; status: string; stale: boolean }[] = await payments.query(
      `SELECT id, status, attempt_sent_at < now() - interval '30 minutes' AS stale FROM payment_intents WHERE id = ANY($1::text[])`,
      [intents.map((intent) => intent.id)],
    );
    const by_id = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
    expect(rows.sort(by_id)).toEqual(intents.map((intent) => ({ id: intent.id, status: 'requires_payment', stale: true })).sort(by_id));
  });

  it('records the failure once when the transfer is refused: the funds went to another payment meanwhile', async () => {
    const [shop, payer] = [await merchant(), await fundedHolder(1_000)];
    const rent = await shop.createPaymentIntent({ amount: 1_000, currency: 'USD', reference: 'rent' });
    const lunch = await shop.createPaymentIntent({ amount: 600, currency: 'USD', reference: 'lunch' });
    const refusals = async () => (await settlements('payment_failed', 'lookup')) + (await settlements('payment_failed', 'resend'));
    const refused_before = await refusals();

    // Accounts is slow: both transfers wait behind the lock, pay answers 503 for both; then rent applies first
    // and takes the money, and lunch is refused with nobody left to hear it.
    await payIntoFault(rent.id, payer, 'rent-1', async () => {
      const lunch_answer = await pay(lunch.id, payer, 'lunch-1');
      expect(lunch_answer.status).toBe(503);
    });

    expect(await waitForStatus(shop, rent.id, 'succeeded')).toMatchObject({ amount_received: 1_000 });
    const failed = await waitFor(
      async () => {
        const intent = await shop.retrievePaymentIntent(lunch.id);
        return intent.last_payment_error !== null && intent;
      },
      { timeout_ms: settled_within_ms, interval_ms: 100, description: 'lunch failed' },
    );
    expect(failed).toMatchObject({ status: 'requires_payment', amount_received: 0, payer_account: null, last_payment_error: { code: 'insufficient_funds' } });
    expect(await statementLines(payer, lunch.id)).toEqual([]);
    await expectChargedOnce(payer, shop, rent.id, 1_000, 1_000);
    expect(await eventsAbout(lunch.id, 'payment_intent.payment_failed')).toBe(1);
    expect(await eventsAbout(lunch.id, 'payment_intent.succeeded')).toBe(0);
    // Settled once: found refused by the lookup (accounts remembers its refusals), or refused again if re-sent before accounts ran it.
    expect(await refusals()).toBe(refused_before + 1);

    // The money is there now, but the first pay's key answers what became of that pay: refused. It starts no
    // other attempt (that would be a second operation under one key), now or when sent again.
    await deposit(payer, 600, `more-${payer.id}`);
    for (const replayed of [null, 'true']) {
      const resent = await pay(lunch.id, payer, 'lunch-1');
      expect(resent.status).toBe(402);
      expect(resent.body.error).toMatchObject({ type: 'payment_error', code: 'insufficient_funds' });
      expect(resent.headers.get('idempotent-replayed')).toBe(replayed);
    }
    expect(await shop.retrievePaymentIntent(lunch.id)).toMatchObject({ status: 'requires_payment', amount_received: 0 });
    expect(await statementLines(payer, lunch.id)).toEqual([]);

    // The holder can try again with a new request.
    const again = await pay(lunch.id, payer, 'lunch-2');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'succeeded', amount_received: 600 });
  });
});
