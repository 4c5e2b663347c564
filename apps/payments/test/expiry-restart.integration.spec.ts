import type { PaymentIntentObject } from '@paynet/contracts';
import { jsonFetch, waitFor } from '@paynet/testing';
import { AppModule } from '../src/app.module.js';
import { payments_config_schema } from '../src/config.js';
import { balance, eventsAbout, expectLedgerVerifies, holder, merchant, pay, usePayments } from './support.js';

const hold_ttl_seconds = 3;
const settings = { HOLD_TTL_SECONDS: String(hold_ttl_seconds), EXPIRY_SWEEP_INTERVAL_MS: '200' };

/**
 * Expiry needs no running process at the moment it happens: payments is
 * stopped before an intent's expires_at and a hold's expiry, started again
 * after both, and the new process cancels them (reason expired), releases
 * the held money and writes each event once.
 */
describe('expiry across a restart of payments', () => {
  const world = usePayments(settings);

  it('cancels an expired intent and releases an expired hold that came due while payments was down', async () => {
    const { stack } = world;
    const shop = await merchant(stack);
    const payer = await holder(stack, 1_000);
    const unpaid = await shop.createPaymentIntent({ amount: 100, currency: 'USD', reference: 'unpaid', expires_in: 2 });
    const manual = await shop.createPaymentIntent({ amount: 400, currency: 'USD', reference: 'held', capture_method: 'manual' });
    expect((await pay(stack, manual.id, payer, 'held-1')).body).toMatchObject({ status: 'requires_capture' });
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, available: 600 });

    // payments goes away (a deploy, a crash) before either comes due.
    await stack.apps['payments']?.close();
    delete stack.apps['payments'];
    await new Promise((resolve) => setTimeout(resolve, (hold_ttl_seconds + 1) * 1_000));
    // Both came due while no payments process ran; the restarted one writes down what happened.
    const restarted = await stack.startReplica({ service: 'payments', schema: payments_config_schema, module: AppModule.forConfig, env: settings });

    for (const [intent_id, events_before] of [[unpaid.id, 1], [manual.id, 2]] as const) {
      const canceled = await waitFor(
        async () => (await eventsAbout(world, intent_id)).find((event) => event.type === 'payment_intent.canceled'),
        { timeout_ms: 15_000, interval_ms: 100, description: `${intent_id} canceled by the restarted sweep` },
      );
      expect(canceled.data.object).toMatchObject({ id: intent_id, status: 'canceled', cancellation_reason: 'expired' });
      expect(await eventsAbout(world, intent_id)).toHaveLength(events_before + 1);
    }
    expect(await balance(stack, payer)).toMatchObject({ posted: 1_000, pending: 0, available: 1_000 });
    // The payer reads it so from the restarted process.
    const read = await jsonFetch<PaymentIntentObject>(`${restarted.url}/v1/payment-intents/${manual.id}`, { headers: { authorization: `Bearer ${payer.token}` } });
    expect(read.body).toMatchObject({ status: 'canceled', cancellation_reason: 'expired', amount_received: 0 });
    await expectLedgerVerifies(stack);
  });
});
