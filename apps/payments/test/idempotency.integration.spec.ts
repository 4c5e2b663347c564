import type { PaymentIntentObject } from '@paynet/contracts';
import { IdempotencySweeper } from '@paynet/platform';
import { adminFetch, createHolder, createMerchant, type FetchResult, holderBalance, type InProcessStack, startInProcess, type TestHolder, type TestMerchant, waitFor } from '@paynet/testing';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module.js';
import { payments_config_schema } from '../src/config.js';

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
      // Hold the intent's row lock: the first pay claims its key, then waits on the row.
      const blocker = database.createQueryRunner();
      await blocker.connect();
      await blocker.startTransaction();
      let first: Promise<FetchResult<PaymentIntentObject>>;
      try {
        await blocker.query('SELECT id FROM payment_intents WHERE id = $1 FOR UPDATE', [intent.id]);
        first = pay(payer, intent.id, 'slow-1');
        await waitFor(async () => ((await database.query(`SELECT 1 FROM idempotency_keys WHERE key = 'slow-1' AND state = 'in_progress'`)) as unknown[]).length === 1, {
          description: 'the first pay to claim its key',
        });
        const during = await pay(payer, intent.id, 'slow-1');
        expect(during).toMatchObject({ status: 409, body: { error: { type: 'idempotency_error', code: 'idempotency_request_in_progress' } } });
      } finally {
        await blocker.commitTransaction();
        await blocker.release();
      }
      const finished = await first;
      expect(finished).toMatchObject({ status: 200, body: { status: 'succeeded' } });
      expectReplayOf(await pay(payer, intent.id, 'slow-1'), finished);
      expect(await holderBalance(payer)).toMatchObject({ available: 700 });
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
