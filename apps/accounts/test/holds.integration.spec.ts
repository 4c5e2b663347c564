import {
  type AccountObject,
  type BalanceObject,
  type GetBalanceReply,
  type GetHoldReply,
  IdPrefix,
  newId,
  type PlaceHoldCommand,
  type PlaceHoldReply,
  type PostHoldReply,
  type StatementLineObject,
  type ListResponse,
  type VoidHoldReply,
} from '@paynet/contracts';
import { adminFetch, type InProcessStack, jsonFetch, startInProcess, waitFor } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet, holdCommand, transferCommand } from './support.js';

/** Short, so the sweeper test waits a fraction of a second past expiry, not the default 2 s. */
const sweep_interval_ms = 200;
const concurrent_sends = 16;

/** Two-phase holds over real PostgreSQL and NATS: place, post (all, part, with a fee), void, expiry. */
describe('holds over real PostgreSQL and NATS', () => {
  let stack: InProcessStack;
  let rpc: InProcessStack['rpc'];

  beforeAll(async () => {
    stack = await startInProcess([
      { service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig, env: { HOLD_SWEEP_INTERVAL_MS: String(sweep_interval_ms) } },
    ]);
    rpc = stack.rpc;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function merchantAccount(): Promise<string> {
    const account_id = newId(IdPrefix.account);
    await rpc.request('accounts.accounts.create', { account_id, kind: 'merchant', currency: 'USD', owner_name: 'Shop' });
    return account_id;
  }

  /** The holder's view, over HTTP (API.md balance object). */
  async function walletBalance(account: AccountObject): Promise<BalanceObject> {
    const answer = await jsonFetch<BalanceObject>(`${stack.urls.accounts}/v1/accounts/${account.id}/balance`, { headers: { authorization: `Bearer ${account.token}` } });
    expect(answer.status).toBe(200);
    return answer.body;
  }

  /** A balance as other services read it (amounts as decimal strings over NATS), in numbers. */
  async function balanceOf(account_id: string): Promise<BalanceObject> {
    const wire = await rpc.request<GetBalanceReply>('accounts.balances.get', { account_id });
    return { ...wire, posted: Number(wire.posted), pending: Number(wire.pending), available: Number(wire.available) };
  }

  async function statement(account: AccountObject): Promise<StatementLineObject[]> {
    const answer = await jsonFetch<ListResponse<StatementLineObject>>(`${stack.urls.accounts}/v1/accounts/${account.id}/transactions`, {
      headers: { authorization: `Bearer ${account.token}` },
    });
    return answer.body.data;
  }

  function nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }

  const hold = holdCommand;

  function place(command: PlaceHoldCommand): Promise<PlaceHoldReply> {
    return rpc.request<PlaceHoldReply>('accounts.holds.place', command);
  }

  function post(hold_id: string, amount: number, fee?: number): Promise<PostHoldReply> {
    return rpc.request<PostHoldReply>('accounts.holds.post', { hold_id, amount_minor: String(amount), ...(fee === undefined ? {} : { fee_minor: String(fee) }) });
  }

  function voidHold(hold_id: string): Promise<VoidHoldReply> {
    return rpc.request<VoidHoldReply>('accounts.holds.void', { hold_id });
  }

  function getHold(hold_id: string): Promise<GetHoldReply> {
    return rpc.request<GetHoldReply>('accounts.holds.get', { hold_id });
  }

  /** A plain connection to the service's schema, for what only SQL can show. */
  async function withDatabase(work: (client: pg.Client) => Promise<void>): Promise<void> {
    const client = new pg.Client({ connectionString: stack.databaseUrl, options: '-c search_path=accounts' });
    await client.connect();
    try {
      await work(client);
    } finally {
      await client.end();
    }
  }

  /** Waits out the hold's expiry by the test's clock (the service reads the same host's clock). */
  async function untilPast(expires_at: number): Promise<void> {
    await waitFor(() => nowSeconds() >= expires_at, { timeout_ms: 5_000, description: `second ${expires_at}` });
  }

  it('places a hold that shows as pending and lowers available, then posts all of it with statement lines', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    const placed = await place(hold('h-all', ann.id, shop, 600));
    expect(placed).toMatchObject({ hold_id: 'h-all', result: 'applied', state: 'pending', amount_minor: '600' });
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 1_000, pending: 600, available: 400 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 0, pending: 0, available: 0 });

    const posted = await post('h-all', 600);
    expect(posted).toMatchObject({ hold_id: 'h-all', result: 'applied', state: 'posted', amount_minor: '600', posted_amount_minor: '600', released_minor: '0', fee_minor: '0', fee_line_ids: [] });
    expect(posted.line_ids).toHaveLength(2);
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 400, pending: 0, available: 400 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 600, pending: 0, available: 600 });
    const [line] = await statement(ann);
    expect(line).toMatchObject({ id: posted.line_ids[0], amount: -600, balance_after: 400, description: 'Payment to Shop (order 1)', payment_intent: 'pi_test' });
    expect(await getHold('h-all')).toMatchObject({ found: true, state: 'posted', amount_minor: '600', posted_amount_minor: '600', void_reason: null });
    await expect(voidHold('h-all')).rejects.toMatchObject({ status: 409, code: 'hold_already_posted' });
  });

  it('posts part of a hold and releases the rest, to the minor unit', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    await place(hold('h-part', ann.id, shop, 600));
    const posted = await post('h-part', 250);
    expect(posted).toMatchObject({ result: 'applied', amount_minor: '600', posted_amount_minor: '250', released_minor: '350' });
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 750, pending: 0, available: 750 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 250, pending: 0, available: 250 });
    await expect(post('h-part', 251)).rejects.toMatchObject({ status: 409, code: 'hold_already_posted', param: 'amount_minor' });
  });

  it('refuses to post more than was held, and changes nothing', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    await place(hold('h-over', ann.id, shop, 600));
    await expect(post('h-over', 601)).rejects.toMatchObject({ status: 400, code: 'amount_too_large', param: 'amount_minor' });
    await expect(post('h-over', 100, 101)).rejects.toMatchObject({ status: 400, param: 'fee_minor' });
    await expect(rpc.request('accounts.holds.post', { hold_id: 'h-over', amount_minor: '0' })).rejects.toMatchObject({ status: 400, param: 'amount_minor' });
    await expect(rpc.request('accounts.holds.post', { hold_id: 'h-over', amount_minor: '1', extra: 1 })).rejects.toMatchObject({ status: 400, code: 'unknown_parameter' });
    await expect(post('h-missing', 1)).rejects.toMatchObject({ status: 404, code: 'resource_missing' });
    expect(await walletBalance(ann)).toMatchObject({ posted: 1_000, pending: 600, available: 400 });
    // Exactly the held amount is fine.
    await post('h-over', 600);
    expect(await walletBalance(ann)).toMatchObject({ posted: 400, pending: 0, available: 400 });
  });

  it('voids a hold: the money is available again, a second void answers the same, and a post is refused', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    const command = hold('h-void', ann.id, shop, 700);
    await place(command);
    const voided = await voidHold('h-void');
    expect(voided).toEqual({ hold_id: 'h-void', result: 'applied', state: 'voided', amount_minor: '700', released_minor: '700', void_reason: 'requested' });
    expect(await voidHold('h-void')).toEqual({ ...voided, result: 'already_applied' });
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 1_000, pending: 0, available: 1_000 });
    await expect(post('h-void', 700)).rejects.toMatchObject({ status: 409, code: 'hold_already_voided' });
    // A re-sent place of a voided hold does not place it again: it says what became of it.
    expect(await place(command)).toMatchObject({ result: 'already_applied', state: 'voided' });
    expect(await walletBalance(ann)).toMatchObject({ pending: 0, available: 1_000 });
    await expect(voidHold('h-never')).rejects.toMatchObject({ status: 404, code: 'resource_missing' });
  });

  it('moves a fee on post from the merchant to the platform fee account, in the same transaction', async () => {
    const [ann, shop] = [await fundedWallet(stack, 5_000), await merchantAccount()];
    const fees_before = await balanceOf('acct_feesUSD');
    await place(hold('h-fee', ann.id, shop, 1_000));
    const posted = await post('h-fee', 800, 24);
    expect(posted).toMatchObject({ posted_amount_minor: '800', released_minor: '200', fee_minor: '24' });
    expect(posted.fee_line_ids).toHaveLength(2);
    expect(await walletBalance(ann)).toMatchObject({ posted: 4_200, pending: 0, available: 4_200 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 776, available: 776 });
    expect((await balanceOf('acct_feesUSD')).posted - fees_before.posted).toBe(24);
    expect(await post('h-fee', 800, 24)).toEqual({ ...posted, result: 'already_applied' });
    await expect(post('h-fee', 800)).rejects.toMatchObject({ status: 409, code: 'hold_already_posted', param: 'fee_minor' });
    expect((await balanceOf('acct_feesUSD')).posted - fees_before.posted).toBe(24);
  });

  it('answers re-sends of place and post the same, without a second effect', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    const command = hold('h-again', ann.id, shop, 300);
    const first = await place(command);
    expect(await place(command)).toEqual({ ...first, result: 'already_applied' });
    expect(await walletBalance(ann)).toMatchObject({ pending: 300, available: 700 });
    const posted = await post('h-again', 300, 3);
    expect(await post('h-again', 300, 3)).toEqual({ ...posted, result: 'already_applied' });
    expect(await place(command)).toEqual({ ...first, result: 'already_applied', state: 'posted' });
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 700, pending: 0, available: 700 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 297 });
    expect(await getHold('h-again')).toMatchObject({ found: true, state: 'posted', fee_minor: '3', payment_intent: 'pi_test' });
  });

  it('places a hold once and posts it once even when each is sent many times at once', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    const fees_before = await balanceOf('acct_feesUSD');
    const command = hold('h-race', ann.id, shop, 400);
    const placed = await Promise.all(Array.from({ length: concurrent_sends }, () => place(command)));
    expect(placed.filter((reply) => reply.result === 'applied')).toHaveLength(1);
    expect(new Set(placed.map((reply) => JSON.stringify({ ...reply, result: undefined })))).toHaveProperty('size', 1);
    expect(await walletBalance(ann)).toMatchObject({ posted: 1_000, pending: 400, available: 600 });

    const posted = await Promise.all(Array.from({ length: concurrent_sends }, () => post('h-race', 350, 7)));
    expect(posted.filter((reply) => reply.result === 'applied')).toHaveLength(1);
    expect(new Set(posted.map((reply) => JSON.stringify({ ...reply, result: undefined })))).toHaveProperty('size', 1);
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 650, pending: 0, available: 650 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 343 });
    expect((await balanceOf('acct_feesUSD')).posted - fees_before.posted).toBe(7);
  });

  it('never lets concurrent holds together exceed the balance', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    const answers = await Promise.allSettled(Array.from({ length: 10 }, (_, index) => place(hold(`h-many-${index}`, ann.id, shop, 150))));
    const applied = answers.filter((answer) => answer.status === 'fulfilled');
    const refused = answers.filter((answer): answer is PromiseRejectedResult => answer.status === 'rejected');
    expect(applied).toHaveLength(6);
    expect(refused.map((answer) => (answer.reason as { code: string }).code)).toEqual(Array(4).fill('insufficient_funds'));
    expect(await walletBalance(ann)).toMatchObject({ posted: 1_000, pending: 900, available: 100 });
  });

  it('refuses a hold beyond the available balance with 402, and changes nothing', async () => {
    const [ann, shop] = [await fundedWallet(stack, 500), await merchantAccount()];
    await place(hold('h-first', ann.id, shop, 300));
    await expect(place(hold('h-poor', ann.id, shop, 201))).rejects.toMatchObject({ status: 402, code: 'insufficient_funds' });
    // A refusal is remembered: the id reads refused, for good.
    expect(await getHold('h-poor')).toEqual({
      found: false,
      refused: { status: 402, error: expect.objectContaining({ code: 'insufficient_funds' }) },
    });
    expect(await walletBalance(ann)).toMatchObject({ posted: 500, pending: 300, available: 200 });
    // Exactly the available balance is fine.
    await place(hold('h-exact', ann.id, shop, 200));
    expect(await walletBalance(ann)).toMatchObject({ posted: 500, pending: 500, available: 0 });
  });

  it('refuses a transfer that would spend held money with 402', async () => {
    const [ann, bob, shop] = [await fundedWallet(stack, 1_000), await fundedWallet(stack, 0), await merchantAccount()];
    await place(hold('h-spend', ann.id, shop, 700));
    await expect(rpc.request('accounts.transfers.post', transferCommand('t-spend-held', ann.id, bob.id, 301))).rejects.toMatchObject({
      status: 402,
      code: 'insufficient_funds',
    });
    await rpc.request('accounts.transfers.post', transferCommand('t-spend-free', ann.id, bob.id, 300));
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 700, pending: 700, available: 0 });
    // The hold is still whole and can be posted in full.
    await post('h-spend', 700);
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 0, pending: 0, available: 0 });
  });

  it('refuses the same hold id with other content, naming the field', async () => {
    const [ann, bob, shop] = [await fundedWallet(stack, 1_000), await fundedWallet(stack, 0), await merchantAccount()];
    const command = hold('h-differ', ann.id, shop, 100);
    await place(command);
    const differing: [Partial<PlaceHoldCommand>, string][] = [
      [{ amount_minor: '101' }, 'amount_minor'],
      [{ credit_account: bob.id }, 'credit_account'],
      [{ expires_at: command.expires_at + 1 }, 'expires_at'],
      [{ payment_intent: 'pi_other' }, 'payment_intent'],
    ];
    for (const [change, field] of differing) {
      await expect(place({ ...command, ...change })).rejects.toMatchObject({ status: 409, code: 'hold_exists_with_different_fields', param: field });
    }
    expect(await walletBalance(ann)).toMatchObject({ pending: 100, available: 900 });
    // A hold may not take a transfer's journal id either.
    await rpc.request('accounts.transfers.post', transferCommand('t-not-a-hold', ann.id, bob.id, 1));
    await expect(place(hold('t-not-a-hold', ann.id, shop, 1))).rejects.toMatchObject({ status: 409, code: 'hold_exists_with_different_fields' });
  });

  it('refuses bad holds with 400 or 404: past expiry, same accounts, unknown account, other currency', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    await expect(place(hold('h-bad-1', ann.id, shop, 1, { expires_at: nowSeconds() - 1 }))).rejects.toMatchObject({ status: 400, param: 'expires_at' });
    await expect(place(hold('h-bad-2', ann.id, ann.id, 1))).rejects.toMatchObject({ status: 400, param: 'credit_account' });
    await expect(place(hold('h-bad-3', ann.id, 'acct_nobody00', 1))).rejects.toMatchObject({ status: 404, code: 'resource_missing' });
    await expect(place(hold('h-bad-4', ann.id, shop, 1, { currency: 'EUR' }))).rejects.toMatchObject({ status: 402, code: 'currency_mismatch' });
    await expect(place(hold('h-bad-5', ann.id, shop, 0))).rejects.toMatchObject({ status: 400, param: 'amount_minor' });
    await expect(place(hold('h-bad-6', ann.id, shop, 1_000_000_000_001))).rejects.toMatchObject({ status: 400, param: 'amount_minor' });
    expect(await walletBalance(ann)).toMatchObject({ pending: 0, available: 1_000 });
  });

  it('refuses to post an expired hold (409 hold_expired); it can only be voided', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    const expires_at = nowSeconds() + 2;
    await place(hold('h-late', ann.id, shop, 500, { expires_at }));
    await untilPast(expires_at);
    await expect(post('h-late', 500)).rejects.toMatchObject({ status: 409, code: 'hold_expired' });
    // Whether the sweeper or this void releases it, it reads as expired.
    const voided = await voidHold('h-late');
    expect(voided).toMatchObject({ state: 'voided', void_reason: 'expired', released_minor: '500' });
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 1_000, pending: 0, available: 1_000 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 0, pending: 0 });
  });

  it('releases an expired hold by the sweeper, without anyone asking', async () => {
    const [ann, shop] = [await fundedWallet(stack, 1_000), await merchantAccount()];
    const expires_at = nowSeconds() + 2;
    await place(hold('h-swept', ann.id, shop, 800, { expires_at }));
    await place(hold('h-kept', ann.id, shop, 100));
    expect(await walletBalance(ann)).toMatchObject({ pending: 900, available: 100 });
    await untilPast(expires_at);
    await waitFor(async () => (await walletBalance(ann)).pending === 100, { timeout_ms: 5_000, description: 'the sweeper to release h-swept' });
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 1_000, pending: 100, available: 900 });
    expect(await getHold('h-swept')).toMatchObject({ found: true, state: 'voided', void_reason: 'expired', posted_amount_minor: '0' });
    expect(await getHold('h-kept')).toMatchObject({ found: true, state: 'pending' });
  });

  it('keeps every sum exact when places, posts, voids and transfers over the same accounts run at once', async () => {
    const [ann, bob, shop] = [await fundedWallet(stack, 10_000), await fundedWallet(stack, 10_000), await merchantAccount()];
    const fees_before = await balanceOf('acct_feesUSD');
    const wallets = [ann, bob];
    const ids = (wallet: AccountObject, index: number) => `h-mix-${wallet.id}-${index}`;
    await Promise.all(wallets.flatMap((wallet) => Array.from({ length: 10 }, (_, index) => place(hold(ids(wallet, index), wallet.id, shop, 100)))));
    const work: Promise<unknown>[] = [];
    for (const wallet of wallets) {
      for (let index = 0; index < 10; index++) {
        // Posts and voids lock the hold row, then balances; places and transfers lock balances only.
        work.push(index < 5 ? post(ids(wallet, index), 100, 1) : voidHold(ids(wallet, index)));
        work.push(place(hold(`h-mix-new-${wallet.id}-${index}`, wallet.id, shop, 50)));
      }
    }
    for (let index = 0; index < 10; index++) {
      work.push(rpc.request('accounts.transfers.post', transferCommand(`t-mix-ab-${index}`, ann.id, bob.id, 10)));
      work.push(rpc.request('accounts.transfers.post', transferCommand(`t-mix-ba-${index}`, bob.id, ann.id, 20)));
    }
    const answers = await Promise.allSettled(work);
    expect(answers.filter((answer) => answer.status === 'rejected')).toEqual([]);
    expect(await walletBalance(ann)).toEqual({ object: 'balance', currency: 'USD', posted: 9_600, pending: 500, available: 9_100 });
    expect(await walletBalance(bob)).toEqual({ object: 'balance', currency: 'USD', posted: 9_400, pending: 500, available: 8_900 });
    expect(await balanceOf(shop)).toMatchObject({ posted: 990 });
    expect((await balanceOf('acct_feesUSD')).posted - fees_before.posted).toBe(10);
  });

  it('has the database refuse an impossible hold or balance even if the code had a bug', async () => {
    const [ann, shop] = [await fundedWallet(stack, 100), await merchantAccount()];
    await place(hold('h-guarded', ann.id, shop, 60));
    const refused: [string, unknown[], RegExp][] = [
      // More pending than the wallet holds.
      ['UPDATE balances SET debits_pending = 101 WHERE account_id = $1', [ann.id], /balances_check/],
      // A hold leaves pending once, for good, and its request never changes.
      [`UPDATE holds SET amount = 61 WHERE id = 'h-guarded'`, [], /leaves pending once/],
      [`UPDATE holds SET state = 'voided', void_reason = 'requested', amount = 61 WHERE id = 'h-guarded'`, [], /request columns never change/],
      [`UPDATE holds SET state = 'posted' WHERE id = 'h-guarded'`, [], /holds_posted_state/],
      [`UPDATE holds SET state = 'pending' WHERE id = 'h-all'`, [], /leaves pending once/],
      [`DELETE FROM holds WHERE id = 'h-guarded'`, [], /DELETE of hold h-guarded refused/],
      [
        `INSERT INTO holds (id, currency, debit_account_id, credit_account_id, amount, expires_at, state, posted_amount, description)
         VALUES ('h-impossible', 'USD', $1, $2, 10, now() + interval '1 hour', 'posted', 11, 'x')`,
        [ann.id, shop],
        /holds_posted_within_amount/,
      ],
    ];
    await withDatabase(async (client) => {
      for (const [sql, parameters, reason] of refused) await expect(client.query(sql, parameters)).rejects.toThrow(reason);
    });
    expect(await walletBalance(ann)).toMatchObject({ posted: 100, pending: 60, available: 40 });
    expect(await getHold('h-guarded')).toMatchObject({ state: 'pending', amount_minor: '60' });
  });

  it('keeps the ledger verifiable: GET /v1/ledger/verify is ok and pending columns equal the pending holds', async () => {
    const verify = await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify');
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ ok: true, problems: [] });
    // The check the verify endpoint is to gain: every pending column is the sum of its account's pending holds.
    await withDatabase(async (client) => {
      expect((await client.query(pending_holds_check_sql)).rows).toEqual([]);
      expect((await client.query(posted_holds_check_sql)).rows).toEqual([]);
      const pending = await client.query(`SELECT count(*)::int AS pending FROM holds WHERE state = 'pending'`);
      expect(pending.rows[0].pending).toBeGreaterThan(0);
    });
  });
});

const pending_holds_check_sql = `
  SELECT b.account_id, b.debits_pending, b.credits_pending, coalesce(d.held, 0) AS held_debits, coalesce(c.held, 0) AS held_credits
  FROM balances b
  LEFT JOIN (SELECT debit_account_id AS account_id, sum(amount) AS held FROM holds WHERE state = 'pending' GROUP BY debit_account_id) d
    ON d.account_id = b.account_id
  LEFT JOIN (SELECT credit_account_id AS account_id, sum(amount) AS held FROM holds WHERE state = 'pending' GROUP BY credit_account_id) c
    ON c.account_id = b.account_id
  WHERE b.debits_pending <> coalesce(d.held, 0) OR b.credits_pending <> coalesce(c.held, 0)`;

/** And: every posted hold's entry moves its posted amount, and its fee entry its fee. */
const posted_holds_check_sql = `
  SELECT h.id AS hold_id, h.posted_amount, h.fee_amount, coalesce(e.amount, 0) AS entry_amount, coalesce(f.amount, 0) AS fee_entry_amount
  FROM holds h
  LEFT JOIN postings e ON e.entry_id = h.id AND e.line_index = 0
  LEFT JOIN postings f ON f.entry_id = h.id || ':fee' AND f.line_index = 0
  WHERE h.state = 'posted' AND (coalesce(e.amount, 0) <> h.posted_amount OR coalesce(f.amount, 0) <> h.fee_amount)`;
