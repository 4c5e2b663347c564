import type { AccountObject, PaymentIntentObject, PlatformEvent } from '@paynet/contracts';
import { type Behaviour, type InProcessStack, jsonFetch, startInProcess, waitFor, WebhookReceiver } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { payments_config_schema } from '../src/config.js';
import { availableBalance, holder, merchant, payIntent, type Shop } from './support.js';

const amount_max = 10_000;
const velocity_count_max = 5;
const velocity_amount_max = 30_000;
// Generous: an in-process verifier answering 20 concurrent pays on a loaded machine must never look
// unavailable (300 ms did); the slow-verifier test does not wait on it beyond one timeout per pay.
const verifier_timeout_ms = 2_000;
const breaker_failures = 3;
// Longer than the few requests the test makes while the circuit must stay open, even on a slow machine.
const breaker_open_ms = 5_000;

type VerifierAnswer = ReturnType<Behaviour>;
const allow: VerifierAnswer = { status: 200, body: { decision: 'allow' } };

/**
 * Risk rules over real PostgreSQL and NATS, with a real HTTP verifier on
 * 127.0.0.1. Two payments replicas share the database: `open` fails open
 * when the verifier cannot answer, `closed` fails closed; velocity holds
 * across both.
 */
describe('risk rules on pay', () => {
  let stack: InProcessStack;
  let verifier: WebhookReceiver;
  let answer: (request: Record<string, unknown>) => VerifierAnswer = () => allow;
  let open_url: string;
  let closed_url: string;
  let database: pg.Client;

  beforeAll(async () => {
    verifier = await WebhookReceiver.start((n) => answer(JSON.parse(verifier.received[n]?.body ?? '{}') as Record<string, unknown>));
    const env = {
      RISK_MAX_AMOUNT_MINOR: String(amount_max),
      RISK_VELOCITY_COUNT_PER_MINUTE: String(velocity_count_max),
      RISK_VELOCITY_AMOUNT_MINOR_PER_MINUTE: String(velocity_amount_max),
      RISK_VERIFY_URL: verifier.url,
      RISK_VERIFY_TIMEOUT_MS: String(verifier_timeout_ms),
      RISK_VERIFY_BREAKER_FAILURES: String(breaker_failures),
      RISK_VERIFY_BREAKER_OPEN_MS: String(breaker_open_ms),
      RISK_SWEEP_INTERVAL_MS: '100',
    };
    const definition = { service: 'payments', schema: payments_config_schema, module: AppModule.forConfig } as const;
    stack = await startInProcess([{ ...definition, env: { ...env, RISK_VERIFY_FAIL_MODE: 'open' } }], { neighbours: ['accounts', 'merchants'] });
    open_url = stack.urls.payments as string;
    closed_url = (await stack.startReplica({ ...definition, env: { ...env, RISK_VERIFY_FAIL_MODE: 'closed' } })).url;
    database = new pg.Client({ connectionString: stack.databaseUrl, options: '-c search_path=payments' });
    await database.connect();
  });

  afterEach(() => {
    answer = () => allow;
  });

  afterAll(async () => {
    await database?.end();
    await stack?.stop();
    await verifier?.close();
  });

  let key_counter = 0;
  const nextKey = () => `risk-${++key_counter}`;

  /** A new intent of `amount` and a funded holder, paid once through `replica`. */
  async function payNew(shop: Shop, payer: AccountObject, amount: number, replica = open_url) {
    const intent = await shop.createPaymentIntent({ amount, currency: 'USD', reference: `r-${amount}` });
    const answer = await payIntent(replica, intent.id, payer, nextKey());
    return { intent, answer };
  }

  async function failedEventsOf(intent_id: string): Promise<PlatformEvent<PaymentIntentObject>[]> {
    const rows: { payload: string }[] = (await database.query("SELECT payload FROM outbox WHERE type = 'payment_intent.payment_failed'")).rows;
    return rows.map((row) => JSON.parse(row.payload) as PlatformEvent<PaymentIntentObject>).filter((event) => event.data.object.id === intent_id);
  }

  async function declines(rule: string): Promise<number> {
    const text = (await jsonFetch<string>(`${open_url}/metrics`)).body;
    const line = text.split('\n').find((candidate) => candidate.startsWith(`paynet_risk_decisions_total{rule="${rule}",outcome="declined"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  /** 402 risk_declined, and the intent, still payable, says which rule. */
  async function expectDeclined(shop: Shop, intent_id: string, result: { status: number; body: unknown }, rule: string) {
    expect(result.status).toBe(402);
    expect(result.body).toMatchObject({ error: { type: 'payment_error', code: 'risk_declined' } });
    expect(await shop.retrievePaymentIntent(intent_id)).toMatchObject({
      status: 'requires_payment',
      payer_account: null,
      last_payment_error: { code: 'risk_declined', rule, message: expect.any(String) },
    });
  }

  it('allows a payment at the per-payment maximum and declines one minor unit over: recorded, evented, replayed, no money moved', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 50_000);
    const declined_before = await declines('max_amount');
    const at_limit = await payNew(shop, payer, amount_max);
    expect(at_limit.answer.status).toBe(200);
    expect(at_limit.answer.body).toMatchObject({ status: 'succeeded', amount_received: amount_max });

    const intent = await shop.createPaymentIntent({ amount: amount_max + 1, currency: 'USD', reference: 'big' });
    const over = await payIntent(open_url, intent.id, payer, 'over-1');
    await expectDeclined(shop, intent.id, over, 'max_amount');
    expect(await availableBalance(stack, payer)).toBe(50_000 - amount_max);
    const events = await failedEventsOf(intent.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ account: payer.id, data: { object: { last_payment_error: { code: 'risk_declined', rule: 'max_amount' } } } });
    expect(await declines('max_amount')).toBe(declined_before + 1);

    const replay = await payIntent(open_url, intent.id, payer, 'over-1');
    expect(replay.status).toBe(402);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(over.body);
  });

  it('allows N payments per account in a minute and declines the next; admissions older than a minute stop counting and are swept', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 50_000);
    for (let i = 0; i < velocity_count_max; i++) {
      expect((await payNew(shop, payer, 100, i % 2 === 0 ? open_url : closed_url)).answer.status).toBe(200);
    }
    const sixth = await payNew(shop, payer, 100, closed_url);
    await expectDeclined(shop, sixth.intent.id, sixth.answer, 'velocity_count');
    // Another account is not affected.
    expect((await payNew(shop, await holder(stack, 1_000), 100)).answer.status).toBe(200);

    // 59 s old still counts; 61 s old does not (the rolling minute, without waiting a minute).
    await database.query("UPDATE risk_admissions SET admitted_at = clock_timestamp() - interval '59 seconds' WHERE account = $1", [payer.id]);
    await expectDeclined(shop, sixth.intent.id, await payIntent(open_url, sixth.intent.id, payer, nextKey()), 'velocity_count');
    await database.query("UPDATE risk_admissions SET admitted_at = clock_timestamp() - interval '61 seconds' WHERE account = $1", [payer.id]);
    const again = await payIntent(open_url, sixth.intent.id, payer, nextKey());
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'succeeded', last_payment_error: null });
    expect(await availableBalance(stack, payer)).toBe(50_000 - 100 * (velocity_count_max + 1));

    const remaining = await waitFor(async () => {
      const rows = (await database.query('SELECT admitted_at < clock_timestamp() - interval \'60 seconds\' AS old FROM risk_admissions WHERE account = $1', [payer.id])).rows as { old: boolean }[];
      return rows.every((row) => !row.old) && rows;
    }, { description: 'the sweeper to delete admissions older than the window' });
    expect(remaining).toHaveLength(1);
  });

  it('allows reaching the amount limit in a minute exactly and declines one minor unit more', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 100_000);
    for (let i = 0; i < velocity_amount_max / amount_max; i++) expect((await payNew(shop, payer, amount_max)).answer.status).toBe(200);
    const one_more = await payNew(shop, payer, 1, closed_url);
    await expectDeclined(shop, one_more.intent.id, one_more.answer, 'velocity_amount');
    expect(await availableBalance(stack, payer)).toBe(100_000 - velocity_amount_max);
  });

  it('never admits more than the velocity limit, even for 20 concurrent pays across two replicas', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 100_000);
    const intents: PaymentIntentObject[] = [];
    for (let i = 0; i < 20; i++) intents.push(await shop.createPaymentIntent({ amount: 100, currency: 'USD', reference: `burst-${i}` }));
    const answers = await Promise.all(intents.map((intent, i) => payIntent(i % 2 === 0 ? open_url : closed_url, intent.id, payer, `burst-${i}`)));
    expect(answers.map((result) => result.status).filter((status) => status === 200)).toHaveLength(velocity_count_max);
    for (const [i, result] of answers.entries()) {
      if (result.status !== 200) await expectDeclined(shop, (intents[i] as PaymentIntentObject).id, result, 'velocity_count');
    }
    expect(await availableBalance(stack, payer)).toBe(100_000 - 100 * velocity_count_max);
    const admitted = await database.query('SELECT count(*)::int AS count FROM risk_admissions WHERE account = $1', [payer.id]);
    expect(admitted.rows[0]).toEqual({ count: velocity_count_max });
  });

  it('sends the external verifier the intent, amount, currency, account and merchant, and takes its decline', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 10_000);
    const calls_before = verifier.received.length;
    const allowed = await payNew(shop, payer, 1_250);
    expect(allowed.answer.status).toBe(200);
    expect(JSON.parse(verifier.received[calls_before]?.body ?? '{}')).toEqual({
      payment_intent: allowed.intent.id,
      amount: 1_250,
      currency: 'USD',
      account: payer.id,
      merchant: shop.id,
    });

    answer = () => ({ status: 200, body: { decision: 'decline', reason: 'device seen in fraud' } });
    const declined = await payNew(shop, payer, 700);
    await expectDeclined(shop, declined.intent.id, declined.answer, 'external');
    expect(JSON.stringify(declined.answer.body)).not.toContain('device seen');
    expect(await availableBalance(stack, payer)).toBe(10_000 - 1_250);
  });

  it('allows when the verifier is too slow on a fail-open replica, and declines on a fail-closed one', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 10_000);
    // The verifier's late answer is the opposite of what each replica must do, so an outcome that
    // followed it would show a replica that waited past its timeout (no wall-clock bound to flake).
    const late = { delay_ms: verifier_timeout_ms * 4 };
    answer = () => ({ ...late, status: 200, body: { decision: 'decline', reason: 'too late to count' } });
    const open = await payNew(shop, payer, 100, open_url);
    expect(open.answer.status).toBe(200);
    answer = () => ({ ...allow, ...late });
    const closed = await payNew(shop, payer, 200, closed_url);
    await expectDeclined(shop, closed.intent.id, closed.answer, 'external_unavailable');
    expect(await availableBalance(stack, payer)).toBe(10_000 - 100);
  });

  it('opens the circuit after repeated failures: the verifier is not called while open, and is again after the open period', async () => {
    const shop = await merchant(stack);
    const payer = await holder(stack, 10_000);
    const calls = () => verifier.received.length;
    // A success first: the breaker counts consecutive failures.
    expect((await payNew(shop, payer, 10, closed_url)).answer.status).toBe(200);
    const calls_before = calls();
    answer = () => ({ status: 500, body: { error: 'down' } });
    for (let n = 0; n < breaker_failures; n++) {
      const failed = await payNew(shop, payer, 10, closed_url);
      await expectDeclined(shop, failed.intent.id, failed.answer, 'external_unavailable');
    }
    expect(calls()).toBe(calls_before + breaker_failures);

    answer = () => allow;
    const while_open = await payNew(shop, payer, 10, closed_url);
    await expectDeclined(shop, while_open.intent.id, while_open.answer, 'external_unavailable');
    expect(calls()).toBe(calls_before + breaker_failures);
    // The other replica's circuit is its own, and still closed.
    expect((await payNew(shop, payer, 10, open_url)).answer.status).toBe(200);
    expect(calls()).toBe(calls_before + breaker_failures + 1);

    await new Promise((resolve) => setTimeout(resolve, breaker_open_ms + 200));
    expect((await payNew(shop, payer, 10, closed_url)).answer.status).toBe(200);
    expect((await payNew(shop, payer, 10, closed_url)).answer.status).toBe(200);
    expect(calls()).toBe(calls_before + breaker_failures + 3);
    expect(await availableBalance(stack, payer)).toBe(10_000 - 10 * 4);
  });
});
