import type { AccountObject, PaymentIntentObject } from '@paynet/contracts';
import { ApiError, ErrorCode } from '@paynet/contracts';
import { adminFetch, type InProcessStack, jsonFetch, waitFor } from '@paynet/testing';
import { DataSource } from 'typeorm';
import { findIntent, type PaymentIntentRow } from '../src/payment-intents/payment-intent.js';
import { PaymentOutcomes } from '../src/payment-intents/payment-outcomes.js';
import * as support from './support.js';
import { usePayments } from './support.js';

const intents_count = 60;
const pays_per_intent = 4;
const amount = 700;
/** Long enough that 240 pays at once on a busy machine are answered, not left processing (503). */
const request_timeout_ms = 15_000;
const blocked_pay_timeout_ms = 2_000;
/** How long the test waits for a pay's HTTP answer (longer than payments' own wait for accounts). */
const pay_answer_timeout_ms = 60_000;
const holders_at_once = 8;
/** 60 wallets, 60 intents, 240 pays and 60 checks on a shared two-core machine. */
const race_test_timeout_ms = 300_000;

/**
 * An intent that answered 200 never reads otherwise afterwards, and a holder
 * is charged once per intent, however many pay requests race for it.
 */
describe('a paid intent stays paid', () => {
  describe('under concurrent pays', () => {
    const world = usePayments({ NATS_REQUEST_TIMEOUT_MS: String(request_timeout_ms), RECONCILE_AFTER_MS: String(request_timeout_ms * 2) });
    let stack: InProcessStack;
    beforeAll(() => (stack = world.stack));

    /** A pay whose answer may take long: 240 at once queue for payments' database connections. */
    function slowPay(intent_id: string, payer: AccountObject, key: string) {
      return jsonFetch<PaymentIntentObject>(`${stack.urls.payments}/v1/payment-intents/${intent_id}/pay`, {
        method: 'POST',
        headers: { authorization: `Bearer ${payer.token}`, 'idempotency-key': key },
        body: { account: payer.id },
        timeout_ms: pay_answer_timeout_ms,
      });
    }

    it('charges a wallet holding exactly the amount once, when 4 pay requests with their own keys race for each of 60 intents', async () => {
      const shop = await support.merchant(stack);
      const intents = await Promise.all(
        Array.from({ length: intents_count }, (_, index) => shop.createPaymentIntent({ amount, currency: 'USD', reference: `race-${index}` })),
      );
      // A few at a time: making a wallet hashes its token, and 60 at once outlast a request's timeout on a busy machine.
      const payers: AccountObject[] = [];
      while (payers.length < intents.length) {
        payers.push(...(await Promise.all(Array.from({ length: Math.min(holders_at_once, intents.length - payers.length) }, () => support.holder(stack, amount)))));
      }
      const answers = await Promise.all(
        intents.flatMap((intent, index) =>
          Array.from({ length: pays_per_intent }, (_, copy) => slowPay(intent.id, payers[index] as AccountObject, `${intent.id}-pay-${copy}`)),
        ),
      );
      // Each pay is answered the paid intent, or 409 once it is paid; never a refusal of a payment that was made.
      const statuses = answers.map((answer) => (answer.status === 200 ? `200 ${answer.body.status}` : `${answer.status} ${errorCode(answer.body)}`));
      expect(statuses.filter((status) => status !== '200 succeeded' && status !== '409 payment_intent_unexpected_state')).toEqual([]);
      for (const [index, intent] of intents.entries()) {
        expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'succeeded', amount_received: amount });
        expect(await support.availableBalance(stack, payers[index] as AccountObject)).toBe(0);
      }
      expect((await shop.getMerchantBalance(shop.id)).posted).toBe(intents_count * amount);
      const again = await support.pay(stack, (intents[0] as PaymentIntentObject).id, payers[0] as AccountObject, 'pay-again');
      expect(again.status).toBe(409);
      await support.expectLedgerVerifies(stack);
    }, race_test_timeout_ms);
  });

  describe('when an attempt recorded as refused was applied after all', () => {
    const world = usePayments({ NATS_REQUEST_TIMEOUT_MS: String(blocked_pay_timeout_ms), RECONCILE_AFTER_MS: '600000' });
    let stack: InProcessStack;
    beforeAll(() => (stack = world.stack));

    const payments = () => stack.apps['payments']?.get(DataSource) as DataSource;
    const outcomes = () => stack.apps['payments']?.get(PaymentOutcomes) as PaymentOutcomes;
    const row = async (id: string) => (await findIntent(payments().manager, id, false)) as PaymentIntentRow;
    const bogus_refusal = ApiError.payment(ErrorCode.insufficient_funds, 'A refusal that contradicts the ledger.');

    /** An intent left processing (its transfer waits on the payer's locked balance), then recorded refused as a faulty answer would. */
    async function refusedWhileApplying(reference: string) {
      const shop = await support.merchant(stack);
      const payer = await support.holder(stack, amount);
      const intent = await shop.createPaymentIntent({ amount, currency: 'USD', reference });
      const release = await support.blockAccount(world, payer.id);
      expect((await support.pay(stack, intent.id, payer, `${reference}-1`)).status).toBe(503);
      const processing = await row(intent.id);
      expect(processing.status).toBe('processing');
      await payments().transaction((manager) => outcomes().recordRefused(manager, processing, bogus_refusal));
      await release();
      await waitFor(async () => (await support.availableBalance(stack, payer)) === 0, { timeout_ms: 20_000, description: 'the transfer applied' });
      return { shop, payer, intent, processing };
    }

    it('restores the intent, with its event, when the applied answer arrives after the refusal', async () => {
      const { shop, intent, processing } = await refusedWhileApplying('late-applied');
      expect((await shop.retrievePaymentIntent(intent.id)).status).toBe('requires_payment');
      const restored = await payments().transaction((manager) => outcomes().recordApplied(manager, processing));
      expect(restored).toMatchObject({ status: 'succeeded', amount_received: amount, last_payment_error: null, payer_account: processing.payer_account });
      expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'succeeded', amount_received: amount });
      const events = (await support.eventsAbout(world, intent.id)).map((event) => event.type);
      expect(events.slice(-2)).toEqual(['payment_intent.payment_failed', 'payment_intent.succeeded']);
    });

    it('starts no new attempt over a refused one that accounts applied: it restores the intent and refuses to charge again', async () => {
      const { shop, payer, intent } = await refusedWhileApplying('no-second-charge');
      const more = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${payer.id}/deposits`, { amount }, { idempotencyKey: 'no-second-charge-more' });
      expect(more.status).toBe(201);
      const again = await support.pay(stack, intent.id, payer, 'no-second-charge-2');
      expect(again.status).toBe(409);
      expect(await shop.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'succeeded', amount_received: amount, payer_account: payer.id });
      expect(await support.availableBalance(stack, payer)).toBe(amount);
      expect((await shop.getMerchantBalance(shop.id)).posted).toBe(amount);
      await support.expectLedgerVerifies(stack);
    });
  });
});

function errorCode(body: unknown): string {
  return (body as { error?: { code?: string } }).error?.code ?? 'none';
}
