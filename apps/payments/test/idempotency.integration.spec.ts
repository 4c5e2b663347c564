import type { PaymentIntentObject } from '@paynet/contracts';
import { IdempotencySweeper } from '@paynet/platform';
import {
  adminFetch,
  createHolder,
  createMerchant,
  type FetchResult,
  holderBalance,
  holdRowLocks,
  type InProcessStack,
  startInProcess,
  type TestHolder,
  type TestMerchant,
} from '@paynet/testing';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module.js';
import { payments_config_schema } from '../src/config.js';
import { attemptCommand } from '../src/payment-intents/attempts.js';
import { intent_columns, type PaymentIntentRow } from '../src/payment-intents/payment-intent.js';

const retention_seconds = 86_400;

/** API.md "Idempotency", for payment-intent creation and pay, over real PostgreSQL and NATS. */
describe('Idempotency-Key on payments', () => {
  let stack: InProcessStack;
  let database: DataSource;

  beforeAll(async () => {
    stack = await startInProcess(
      [{ service: 'payments', schema: payments_config_schema, module: AppModule.forConfig, env: { IDEMPOTENCY_RETENTION_SECONDS: String(retention_seconds) } }],
      { neighbours: ['accounts', 'merchants'] },
    );
    database = stack.apps['payments']?.get(DataSource) as DataSource;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const intent_body = { amount: 300, currency: 'USD', reference: 'order-1' };

  function create(shop: TestMerchant, key: string | undefined, body: Record<string, unknown> = intent_body) {
    return shop.client.request<PaymentIntentObject>('POST', '/v1/payment-intents', body, key === undefined ? {} : { idempotencyKey: key });
  }

  function pay(holder: TestHolder, intent_id: string, key: string | undefined, body: unknown = { account: holder.id }) {
    return holder.fetch('POST', `/v1/payment-intents/${intent_id}/pay`, body, key === undefined ? {} : { 'idempotency-key': key }) as Promise<FetchResult<PaymentIntentObject>>;
  }

  function expectReplayOf(replay: { status: number; headers: Headers; body: unknown }, first: { status: number; body: unknown }): void {
    expect({ status: replay.status, replayed: replay.headers.get('idempotent-replayed'), body: replay.body }).toEqual({
      status: first.status,
      replayed: 'true',
      body: first.body,
    });
  }

  async function keyStates(key: string): Promise<string[]> {
    const rows: { state: string }[] = await database.query('SELECT state FROM idempotency_keys WHERE key = $1', [key]);
    return rows.map((row) => row.state);
  }

  async function intentCount(shop: TestMerchant): Promise<number> {
    return (await shop.client.listPaymentIntents({ limit: 100 })).data.length;
  }

  describe('same key, same body', () => {
    it('replays a creation with Idempotent-Replayed: true, the same status and body, and creates one intent', async () => {
      const shop = await createMerchant(stack);
      const first = await create(shop, 'create-1');
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      expectReplayOf(await create(shop, 'create-1'), first);
      expect(await intentCount(shop)).toBe(1);
    });

    it('replays a pay without charging twice', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      const first = await pay(payer, intent.id, 'pay-1');
      expect(first).toMatchObject({ status: 200, body: { status: 'succeeded' } });
      expectReplayOf(await pay(payer, intent.id, 'pay-1'), first);
      expect(await holderBalance(payer)).toMatchObject({ available: 700 });
    });

    it('replays a stored 402 insufficient_funds, even after the wallet was funded', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 100 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      const declined = await pay(payer, intent.id, 'poor-1');
      expect(declined).toMatchObject({ status: 402, body: { error: { type: 'payment_error', code: 'insufficient_funds' } } });
      const deposit = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${payer.id}/deposits`, { amount: 1_000 }, { idempotencyKey: `more-${payer.id}` });
      expect(deposit.status).toBe(201);
      expectReplayOf(await pay(payer, intent.id, 'poor-1'), declined);
      expect(await holderBalance(payer)).toMatchObject({ available: 1_100 });
      expect(await shop.client.retrievePaymentIntent(intent.id)).toMatchObject({ status: 'requires_payment' });
    });

    it('replays a stored 409 payment_intent_unexpected_state and a stored 404', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      expect((await pay(payer, intent.id, 'state-1')).status).toBe(200);
      const again = await pay(payer, intent.id, 'state-2');
      expect(again).toMatchObject({ status: 409, body: { error: { type: 'invalid_request_error', code: 'payment_intent_unexpected_state' } } });
      expectReplayOf(await pay(payer, intent.id, 'state-2'), again);
      const missing = await pay(payer, 'pi_missing', 'missing-1');
      expect(missing).toMatchObject({ status: 404, body: { error: { code: 'resource_missing' } } });
      expectReplayOf(await pay(payer, 'pi_missing', 'missing-1'), missing);
      expect(await holderBalance(payer)).toMatchObject({ available: 700 });
    });
  });

  describe('same key, different request', () => {
    it('answers 422 idempotency_key_reused for a creation with another body, and creates nothing more', async () => {
      const shop = await createMerchant(stack);
      expect((await create(shop, 'reuse-1')).status).toBe(201);
      const reused = await create(shop, 'reuse-1', { ...intent_body, amount: 301 });
      expect(reused).toMatchObject({ status: 422, body: { error: { type: 'idempotency_error', code: 'idempotency_key_reused' } } });
      expect(reused.headers.get('idempotent-replayed')).toBeNull();
      expect(await intentCount(shop)).toBe(1);
    });

    it('answers 422 for a pay with another body or on another intent, and charges nothing more', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const [first, second] = [await shop.client.createPaymentIntent(intent_body), await shop.client.createPaymentIntent(intent_body)];
      expect((await pay(payer, first.id, 'reuse-pay')).status).toBe(200);
      const other_body = await pay(payer, first.id, 'reuse-pay', { account: 'acct_other' });
      expect(other_body).toMatchObject({ status: 422, body: { error: { type: 'idempotency_error', code: 'idempotency_key_reused' } } });
      const other_intent = await pay(payer, second.id, 'reuse-pay');
      expect(other_intent).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused' } } });
      expect(await shop.client.retrievePaymentIntent(second.id)).toMatchObject({ status: 'requires_payment' });
      expect(await holderBalance(payer)).toMatchObject({ available: 700 });
    });
  });

  describe('same key while the first request is still running', () => {
    it('answers 409 idempotency_request_in_progress, then replays once the first has finished', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      // Hold the payer's balance in accounts: the first pay claims its key and starts its attempt, then waits for the ledger.
      const ledger = await holdRowLocks(stack.databaseUrl, 'SELECT 1 FROM accounts.balances WHERE account_id = $1 FOR UPDATE', [payer.id]);
      let first: Promise<FetchResult<PaymentIntentObject>>;
      try {
        first = pay(payer, intent.id, 'slow-1');
        await ledger.untilSomeoneWaits({ stopping: first });
        expect(await keyStates('slow-1')).toEqual(['in_progress']);
        const during = await pay(payer, intent.id, 'slow-1');
        expect(during).toMatchObject({ status: 409, body: { error: { type: 'idempotency_error', code: 'idempotency_request_in_progress' } } });
      } finally {
        await ledger.release();
      }
      const finished = await first;
      expect(finished).toMatchObject({ status: 200, body: { status: 'succeeded' } });
      expectReplayOf(await pay(payer, intent.id, 'slow-1'), finished);
      expect(await holderBalance(payer)).toMatchObject({ available: 700 });
    });

    it('makes an identical pay that arrives while the first starts wait for it, then answer 409 or the replay; the intent row is charged once', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      // The first pay's statement (claim and start together) waits on the intent's row; the second waits on the first's key.
      const row = await holdRowLocks(stack.databaseUrl, 'SELECT 1 FROM payments.payment_intents WHERE id = $1 FOR UPDATE', [intent.id]);
      let answers: Promise<FetchResult<PaymentIntentObject>[]>;
      try {
        const first = pay(payer, intent.id, 'queued-1');
        await row.untilSomeoneWaits({ stopping: first });
        answers = Promise.all([first, pay(payer, intent.id, 'queued-1')]);
        await row.untilWaiting(2);
        expect(await keyStates('queued-1')).toEqual([]);
      } finally {
        await row.release();
      }
      const [first_answer, second_answer] = await answers;
      expect(first_answer).toMatchObject({ status: 200, body: { status: 'succeeded' } });
      expect(first_answer.headers.get('idempotent-replayed')).toBeNull();
      if (second_answer.status === 200) expectReplayOf(second_answer, first_answer);
      else expect(second_answer).toMatchObject({ status: 409, body: { error: { code: 'idempotency_request_in_progress' } } });
      expect(await holderBalance(payer)).toMatchObject({ available: 700, pending: 0 });
    });

    it('debits exactly once when 8 identical pays with one key arrive at once', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      const answers = await Promise.all(Array.from({ length: 8 }, () => pay(payer, intent.id, 'burst-1')));
      const succeeded = answers.filter((answer) => answer.status === 200);
      expect(succeeded.length).toBeGreaterThanOrEqual(1);
      expect(succeeded.filter((answer) => answer.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
      for (const answer of succeeded) expect(answer.body).toEqual(succeeded[0]?.body);
      for (const answer of answers.filter((candidate) => candidate.status !== 200)) {
        expect(answer).toMatchObject({ status: 409, body: { error: { code: 'idempotency_request_in_progress' } } });
      }
      expect(await holderBalance(payer)).toMatchObject({ available: 700, pending: 0 });
      expect(await shop.client.getMerchantBalance(shop.id)).toMatchObject({ posted: 300 });
    });
  });

  describe('the same request sent again at once', () => {
    it('creates one intent when 8 identical creations with one key arrive at once, and answers each with it', async () => {
      const shop = await createMerchant(stack);
      const answers = await Promise.all(Array.from({ length: 8 }, () => create(shop, 'burst-create')));
      const first = answers.filter((answer) => answer.headers.get('idempotent-replayed') !== 'true');
      expect(first).toHaveLength(1);
      for (const answer of answers) expect({ status: answer.status, body: answer.body }).toEqual({ status: 201, body: first[0]?.body });
      expect(await intentCount(shop)).toBe(1);
      expect(await keyStates('burst-create')).toEqual(['done']);
    });

    it('gives a creation the intent as it is stored: the answer, a later read and the replay agree', async () => {
      const shop = await createMerchant(stack);
      const made = await create(shop, 'as-stored', { ...intent_body, expires_in: 600, description: 'two cups' });
      expect(made.status).toBe(201);
      expect(made.body.expires_at - made.body.created).toBe(600);
      expect(await shop.client.retrievePaymentIntent(made.body.id)).toEqual(made.body);
      expectReplayOf(await create(shop, 'as-stored', { ...intent_body, expires_in: 600, description: 'two cups' }), made);
    });
  });

  describe('a pay whose request died between its two transactions', () => {
    /** What pay's first transaction leaves: the key leased (the lease run out since) and the intent processing with attempt 1. */
    async function diedAfterStart(payer: TestHolder, intent_id: string, key: string): Promise<void> {
      const body = JSON.stringify({ account: payer.id });
      const fingerprint = createHash('sha256').update(`POST\n/v1/payment-intents/${intent_id}/pay\n`).update(body).digest('hex');
      await database.query(
        `INSERT INTO idempotency_keys (scope, key, fingerprint, state, claim_id, locked_until)
         VALUES ($1, $2, $3, 'in_progress', gen_random_uuid(), now() - interval '1 second')`,
        [`holder:${payer.id}`, key, fingerprint],
      );
      await database.query(
        `UPDATE payment_intents SET status = 'processing', attempt = 1, payer_account = $2, attempt_sent_at = now() WHERE id = $1`,
        [intent_id, payer.id],
      );
    }

    it('finishes the started attempt when the same key is sent again after its lease ran out, charging once', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      await diedAfterStart(payer, intent.id, 'died-1');
      const retried = await pay(payer, intent.id, 'died-1');
      expect(retried).toMatchObject({ status: 200, body: { id: intent.id, status: 'succeeded', payer_account: payer.id, amount_received: 300 } });
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
      expectReplayOf(await pay(payer, intent.id, 'died-1'), retried);
      expect(await holderBalance(payer)).toMatchObject({ available: 700, pending: 0 });
    });

    it('does not charge again when the transfer had been applied before the request died', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      await diedAfterStart(payer, intent.id, 'died-2');
      const [row] = (await database.query(`SELECT ${intent_columns} FROM payment_intents WHERE id = $1`, [intent.id])) as PaymentIntentRow[];
      const attempt = attemptCommand(row as PaymentIntentRow);
      await stack.rpc.request(attempt.subject, attempt.command);
      expect(await holderBalance(payer)).toMatchObject({ available: 700 });
      const retried = await pay(payer, intent.id, 'died-2');
      expect(retried).toMatchObject({ status: 200, body: { status: 'succeeded', amount_received: 300 } });
      expectReplayOf(await pay(payer, intent.id, 'died-2'), retried);
      expect(await holderBalance(payer)).toMatchObject({ available: 700, pending: 0 });
      expect(await shop.client.getMerchantBalance(shop.id)).toMatchObject({ posted: 300 });
    });
  });

  describe('keys are scoped to the principal', () => {
    it('gives two merchants using the same key two intents', async () => {
      const [ann_shop, bob_shop] = [await createMerchant(stack), await createMerchant(stack)];
      const [for_ann, for_bob] = [await create(ann_shop, 'shared-key'), await create(bob_shop, 'shared-key')];
      expect([for_ann.status, for_bob.status]).toEqual([201, 201]);
      expect(for_bob.headers.get('idempotent-replayed')).toBeNull();
      expect(for_ann.body.id).not.toBe(for_bob.body.id);
      expect(for_bob.body.merchant).toBe(bob_shop.id);
      expect([await intentCount(ann_shop), await intentCount(bob_shop)]).toEqual([1, 1]);
    });

    it('keeps two holders using the same key independent', async () => {
      const shop = await createMerchant(stack);
      const [ann, bob] = [await createHolder(stack, { amount: 1_000 }), await createHolder(stack, { amount: 1_000 })];
      const [for_ann, for_bob] = [await shop.client.createPaymentIntent(intent_body), await shop.client.createPaymentIntent({ ...intent_body, amount: 400 })];
      const [ann_paid, bob_paid] = [await pay(ann, for_ann.id, 'holder-key'), await pay(bob, for_bob.id, 'holder-key')];
      expect([ann_paid.status, bob_paid.status]).toEqual([200, 200]);
      expect(bob_paid.headers.get('idempotent-replayed')).toBeNull();
      expect(bob_paid.body).toMatchObject({ id: for_bob.id, payer_account: bob.id, amount_received: 400 });
      expect([(await holderBalance(ann)).available, (await holderBalance(bob)).available]).toEqual([700, 600]);
    });
  });

  describe('answers that are not stored', () => {
    it('does not store a 400 for bad input: the same key then works with a good body', async () => {
      const shop = await createMerchant(stack);
      expect((await create(shop, 'fix-me', { ...intent_body, amount: 12.5 })).status).toBe(400);
      expect((await create(shop, 'fix-me', { ...intent_body, currency: 'EUR' })).status).toBe(400);
      const good = await create(shop, 'fix-me');
      expect(good.status).toBe(201);
      expect(good.headers.get('idempotent-replayed')).toBeNull();
      const payer = await createHolder(stack, { amount: 1_000 });
      expect((await pay(payer, good.body.id, 'fix-pay', { account: payer.id, tip: 1 })).status).toBe(400);
      expect((await pay(payer, good.body.id, 'fix-pay', '{"account":')).status).toBe(400);
      const paid = await pay(payer, good.body.id, 'fix-pay');
      expect(paid.status).toBe(200);
      expect(paid.headers.get('idempotent-replayed')).toBeNull();
    });

    it('requires the key on creation and pay: 400 idempotency_key_missing, and nothing happens', async () => {
      const shop = await createMerchant(stack);
      const payer = await createHolder(stack, { amount: 1_000 });
      const intent = await shop.client.createPaymentIntent(intent_body);
      for (const answer of [await create(shop, undefined), await pay(payer, intent.id, undefined), await pay(payer, intent.id, '')]) {
        expect(answer).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error', code: 'idempotency_key_missing', param: 'Idempotency-Key' } } });
      }
      for (const key of ['k'.repeat(256), 'with space', 'with\ttab']) {
        expect(await pay(payer, intent.id, key)).toMatchObject({ status: 400, body: { error: { param: 'Idempotency-Key' } } });
      }
      expect(await intentCount(shop)).toBe(1);
      expect(await holderBalance(payer)).toMatchObject({ available: 1_000 });
    });
  });

  describe('retention', () => {
    async function age(key: string, seconds: number): Promise<void> {
      await database.query(`UPDATE idempotency_keys SET created_at = now() - make_interval(secs => $2) WHERE key = $1`, [key, seconds]);
    }

    it('keeps a key younger than 24 h and deletes an older one, so only the young one still replays', async () => {
      const shop = await createMerchant(stack);
      const young = await create(shop, 'young-key');
      const old = await create(shop, 'old-key');
      await age('young-key', retention_seconds - 60);
      await age('old-key', retention_seconds + 60);
      const sweeper = stack.apps['payments']?.get(IdempotencySweeper) as IdempotencySweeper;
      expect(await sweeper.sweepOnce()).toBeGreaterThanOrEqual(1);
      const keys: { key: string }[] = await database.query(`SELECT key FROM idempotency_keys WHERE key IN ('young-key', 'old-key')`);
      expect(keys.map((row) => row.key)).toEqual(['young-key']);
      expectReplayOf(await create(shop, 'young-key'), young);
      // The old key is free again: the same request is a new one.
      const resent = await create(shop, 'old-key');
      expect(resent.status).toBe(201);
      expect(resent.headers.get('idempotent-replayed')).toBeNull();
      expect(resent.body.id).not.toBe(old.body.id);
    });

    it('deletes in bounded batches until nothing old is left, and never a claim still leased', async () => {
      await database.query(
        `INSERT INTO idempotency_keys (scope, key, fingerprint, state, claim_id, locked_until, response_status, response_sealed, created_at)
         SELECT 'test', 'bulk-' || n, 'f', 'done', gen_random_uuid(), NULL, 200, 'x', now() - interval '3 days' FROM generate_series(1, 2500) AS n`,
      );
      await database.query(
        `INSERT INTO idempotency_keys (scope, key, fingerprint, state, claim_id, locked_until, created_at)
         VALUES ('test', 'leased', 'f', 'in_progress', gen_random_uuid(), now() + interval '30 seconds', now() - interval '3 days')`,
      );
      const sweeper = stack.apps['payments']?.get(IdempotencySweeper) as IdempotencySweeper;
      expect(await sweeper.sweepOnce()).toBe(2_500);
      const left: { key: string }[] = await database.query(`SELECT key FROM idempotency_keys WHERE scope = 'test'`);
      expect(left.map((row) => row.key)).toEqual(['leased']);
    });
  });
});
