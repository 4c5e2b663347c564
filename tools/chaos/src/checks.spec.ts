import type { BalanceObject, PaymentIntentObject, StatementLineObject } from '@paynet/contracts';
import type { Outcome } from './calls.js';
import { checkRun, feeOf } from './checks.js';
import type { History } from './history.js';
import type { FinalState } from './observe.js';

const balance = (posted: number): BalanceObject => ({ object: 'balance', currency: 'USD', posted, pending: 0, available: posted });
const answered = (status: number, body: unknown): Outcome => ({ kind: 'answered', status, body });
const refusal = (status: number, code: string): Outcome => answered(status, { error: { type: 'payment_error', code, message: code } });
const line = (id: string, amount: number, balance_after: number, payment_intent?: string): StatementLineObject => ({
  id,
  object: 'transaction',
  amount,
  balance_after,
  currency: 'USD',
  description: payment_intent ? 'Payment' : 'Deposit',
  ...(payment_intent ? { payment_intent } : {}),
  created: 1,
});

function intent(id: string, reference: string, fields: Partial<PaymentIntentObject>): PaymentIntentObject {
  return {
    id,
    object: 'payment_intent',
    status: 'requires_payment',
    amount: 1_000,
    currency: 'USD',
    merchant: 'mer_1',
    reference,
    description: null,
    capture_method: 'automatic',
    amount_received: 0,
    amount_refunded: 0,
    payer_account: null,
    last_payment_error: null,
    cancellation_reason: null,
    created: 1,
    expires_at: 2,
    qr_payload: '',
    ...fields,
  };
}

/**
 * A consistent run: two holders of 10,000; order a paid by holder 1 (1,000 at
 * a 1 % fee) and refunded 300; order b refused for insufficient funds.
 */
function consistentRun(): { history: History; state: FinalState } {
  const paid = intent('pi_a', 'order-a', { status: 'succeeded', amount_received: 1_000, amount_refunded: 300, payer_account: 'acct_1' });
  const unpaid = intent('pi_b', 'order-b', {});
  const sent = { sends: 1 };
  const history: History = {
    holders: [
      { id: 'acct_1', token: 't1', deposit: 10_000 },
      { id: 'acct_2', token: 't2', deposit: 10_000 },
    ],
    merchants: [{ id: 'mer_1', fee_bps: 100, webhook_secret: 'whsec_x', hot: true }],
    orders: [
      {
        merchant: 'mer_1',
        reference: 'order-a',
        amount: 1_000,
        intent_id: 'pi_a',
        create: { ...sent, key: 'create-a', outcome: answered(201, intent('pi_a', 'order-a', {})) },
        pays: [{ ...sent, key: 'pay-a', holder: 'acct_1', outcome: answered(200, paid) }],
        refunds: [{ ...sent, key: 'refund-a', amount: 300, outcome: answered(201, { id: 're_1' }) }],
      },
      {
        merchant: 'mer_1',
        reference: 'order-b',
        amount: 1_000,
        intent_id: 'pi_b',
        create: { ...sent, key: 'create-b', outcome: answered(201, unpaid) },
        pays: [{ ...sent, key: 'pay-b', holder: 'acct_2', outcome: refusal(402, 'insufficient_funds') }],
        refunds: [],
      },
    ],
  };
  const state: FinalState = {
    verify: { ok: true, entries_checked: 5, problems: [] },
    fees: balance(10),
    holders: new Map([
      ['acct_1', { balance: balance(9_300), lines: [line('txn_3', 300, 9_300, 'pi_a'), line('txn_2', -1_000, 9_000, 'pi_a'), line('txn_1', 10_000, 10_000)] }],
      ['acct_2', { balance: balance(10_000), lines: [line('txn_4', 10_000, 10_000)] }],
    ]),
    merchants: new Map([['mer_1', { balance: balance(690), intents: [unpaid, paid] }]]),
    webhooks: [{ event_id: 'evt_1', type: 'payment_intent.succeeded', intent_id: 'pi_a', problem: undefined }],
  };
  return { history, state };
}

describe('the chaos checks', () => {
  it('find nothing wrong in a run whose final state matches what the clients were told', () => {
    const { history, state } = consistentRun();
    expect(checkRun(history, state)).toEqual([]);
  });

  it('catch a payment debited twice (the double charge), and the money it created', () => {
    const { history, state } = consistentRun();
    const holder = state.holders.get('acct_1');
    holder?.lines.unshift(line('txn_9', -1_000, 8_300, 'pi_a'));
    if (holder) holder.balance = balance(8_300);
    const anomalies = checkRun(history, state);
    expect(anomalies).toContain('pi_a: succeeded but debited 2 times (acct_1 -1000, acct_1 -1000)');
    expect(anomalies.some((anomaly) => anomaly.startsWith('money:'))).toBe(true);
  });

  it('catch a pay answered 200 whose intent reads otherwise afterwards, and a refusal of a payment that was made', () => {
    const { history, state } = consistentRun();
    const order_b = history.orders[1];
    if (order_b) order_b.pays = [{ sends: 2, key: 'pay-b', holder: 'acct_2', outcome: answered(200, intent('pi_b', 'order-b', { status: 'succeeded' })) }];
    const order_a = history.orders[0];
    if (order_a) order_a.pays.push({ sends: 1, key: 'pay-a2', holder: 'acct_1', outcome: refusal(402, 'insufficient_funds') });
    const anomalies = checkRun(history, state);
    expect(anomalies).toContain('pi_b: pay key pay-b (acct_2) was answered 200 but the intent reads requires_payment');
    expect(anomalies).toContain('pi_a: pay key pay-a2 was refused (402 insufficient_funds) yet acct_1 paid it');
  });

  it('catch an intent left processing, and a refund applied that no client was told of', () => {
    const { history, state } = consistentRun();
    const intents = state.merchants.get('mer_1')?.intents ?? [];
    intents[0] = { ...(intents[0] as PaymentIntentObject), status: 'processing' };
    const order_a = history.orders[0];
    if (order_a) order_a.refunds = [];
    const anomalies = checkRun(history, state);
    expect(anomalies).toContain('pi_b: still processing after the run settled');
    expect(anomalies).toContain('pi_a: amount_refunded 300, but refunds answered 201 total 0 (and 0 of unknown outcome)');
  });

  it('accept a refund of unknown outcome whether or not it was applied', () => {
    const { history, state } = consistentRun();
    const refund = history.orders[0]?.refunds[0];
    if (refund) refund.outcome = { kind: 'unknown', last: '503 ledger_unavailable' };
    expect(checkRun(history, state)).toEqual([]);
  });

  it('catch a creation re-sent with its key that made a second intent', () => {
    const { history, state } = consistentRun();
    state.merchants.get('mer_1')?.intents.push(intent('pi_c', 'order-b', {}));
    expect(checkRun(history, state)).toContain('create: key create-b (1 sends) made 2 intents: pi_b, pi_c');
  });

  it('catch a succeeded payment whose webhook never arrived, one sent as two events, and a bad signature', () => {
    const { history, state } = consistentRun();
    state.webhooks = [{ event_id: 'evt_2', type: 'payment_intent.succeeded', intent_id: 'pi_a', problem: 'refused: webhook refused: invalid_signature' }];
    expect(checkRun(history, state)).toEqual([
      'webhook evt_2: refused: webhook refused: invalid_signature',
      "pi_a: succeeded, but its payment_intent.succeeded webhook never arrived",
    ]);
    state.webhooks = ['evt_3', 'evt_4', 'evt_3'].map((event_id) => ({ event_id, type: 'payment_intent.succeeded', intent_id: 'pi_a', problem: undefined }));
    expect(checkRun(history, state)).toEqual(['pi_a: 2 different payment_intent.succeeded events (evt_3, evt_4)']);
  });

  it('catch a negative balance, a ledger that does not verify, and fees that do not add up', () => {
    const { history, state } = consistentRun();
    state.verify = { ok: false, entries_checked: 5, problems: ['entry x does not balance in USD (net 1)'] };
    state.fees = balance(11);
    state.merchants.set('mer_1', { balance: { ...balance(689), available: -1 }, intents: state.merchants.get('mer_1')?.intents ?? [] });
    expect(checkRun(history, state)).toEqual([
      'ledger: GET /v1/ledger/verify is not ok: entry x does not balance in USD (net 1)',
      'balance: mer_1 is below zero (posted 689, available -1)',
      'mer_1: posted 689, but its succeeded intents less fees and refunds come to 690',
      "fees: the fee account holds 11, but the succeeded payments' fees come to 10",
    ]);
  });

  it('round fees down, as API.md says', () => {
    expect(feeOf(1_000, 100)).toBe(10);
    expect(feeOf(999, 100)).toBe(9);
    expect(feeOf(5_000, 0)).toBe(0);
  });
});
