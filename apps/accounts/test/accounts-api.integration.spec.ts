import type { AccountObject, ListResponse, StatementLineObject } from '@paynet/contracts';
import { adminFetch, type InProcessStack, jsonFetch, startInProcess } from '@paynet/testing';
import net from 'node:net';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';

/** The accounts endpoints of API.md and the NATS commands other services use. */
describe('accounts API', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig }]);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const holderGet = <T>(account: AccountObject, path: string) =>
    jsonFetch<T>(`${stack.urls.accounts}${path}`, { headers: { authorization: `Bearer ${account.token}` } });

  async function wallet(currency = 'USD'): Promise<AccountObject> {
    const created = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency, owner_name: 'Ann' });
    expect(created.status).toBe(201);
    return created.body;
  }

  it('creates a wallet whose token is shown once and reads it back with its balance', async () => {
    const account = await wallet('JPY');
    expect(account).toMatchObject({ object: 'account', currency: 'JPY', owner_name: 'Ann', balance: { posted: 0, pending: 0, available: 0 } });
    expect(account.token).toMatch(/^at_/);
    for (const read of [await holderGet<AccountObject>(account, `/v1/accounts/${account.id}`), await adminFetch<AccountObject>(stack, 'accounts', 'GET', `/v1/accounts/${account.id}`)]) {
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id: account.id, currency: 'JPY', balance: { object: 'balance', currency: 'JPY', posted: 0 } });
      expect(read.body).not.toHaveProperty('token');
    }
  });

  it('refuses bad wallets and deposits with 400, and needs the operator for both', async () => {
    for (const body of [{ currency: 'usd', owner_name: 'x' }, { currency: 'XTS', owner_name: 'x' }, { currency: 'USD' }, { currency: 'USD', owner_name: 'x', extra: 1 }]) {
      expect((await adminFetch(stack, 'accounts', 'POST', '/v1/accounts', body)).status).toBe(400);
    }
    const account = await wallet();
    for (const amount of [0, -1, 0.5, 1_000_000_000_001, '5']) {
      const answer = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${account.id}/deposits`, { amount }, { idempotencyKey: `bad-${String(amount)}` });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { param: 'amount' } });
    }
    const as_holder = await jsonFetch(`${stack.urls.accounts}/v1/accounts/${account.id}/deposits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.token}`, 'idempotency-key': 'self' },
      body: { amount: 5 },
    });
    expect(as_holder.status).toBe(403);
    expect((await holderGet(account, `/v1/accounts/${account.id}/balance`)).body).toMatchObject({ posted: 0 });
  });

  it('lists statement lines newest first, signed from the holder side, with balance_after and cursor pagination', async () => {
    const [ann, bob] = [await wallet(), await wallet()];
    for (const [index, amount] of [500, 250, 100].entries()) {
      await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${ann.id}/deposits`, { amount }, { idempotencyKey: `d-${ann.id}-${index}` });
    }
    await stack.rpc.request('accounts.transfers.post', {
      transfer_id: `pay-${ann.id}`,
      currency: 'USD',
      description: 'Payment to Bob',
      payment_intent: 'pi_test00000000',
      lines: [
        { account: ann.id, direction: 'debit', amount_minor: '300' },
        { account: bob.id, direction: 'credit', amount_minor: '300' },
      ],
    });
    const first = await holderGet<ListResponse<StatementLineObject>>(ann, `/v1/accounts/${ann.id}/transactions?limit=2`);
    expect(first.body.has_more).toBe(true);
    expect(first.body.data.map((line) => [line.amount, line.balance_after])).toEqual([
      [-300, 550],
      [100, 850],
    ]);
    expect(first.body.data[0]).toMatchObject({ object: 'transaction', description: 'Payment to Bob', payment_intent: 'pi_test00000000' });
    const rest = await holderGet<ListResponse<StatementLineObject>>(ann, `/v1/accounts/${ann.id}/transactions?limit=2&starting_after=${first.body.data[1]?.id}`);
    expect(rest.body.data.map((line) => [line.amount, line.balance_after])).toEqual([
      [250, 750],
      [500, 500],
    ]);
    expect(rest.body.has_more).toBe(false);
    expect((await holderGet(ann, `/v1/accounts/${ann.id}/transactions?limit=101`)).status).toBe(400);
    expect((await holderGet(ann, `/v1/accounts/${ann.id}/transactions?starting_after=txn_notmine0000`)).status).toBe(400);
    expect((await holderGet(bob, `/v1/accounts/${ann.id}/transactions`)).status).toBe(404);
  });

  it('answers the NATS commands of other services: merchant accounts, token checks, balances', async () => {
    const created = await stack.rpc.request('accounts.accounts.create', { account_id: 'acct_merchant00000001', kind: 'merchant', currency: 'EUR', owner_name: 'Shop' });
    expect(created).toEqual({ account_id: 'acct_merchant00000001', created: true });
    const again = await stack.rpc.request('accounts.accounts.create', { account_id: 'acct_merchant00000001', kind: 'merchant', currency: 'EUR', owner_name: 'Shop' });
    expect(again).toEqual({ account_id: 'acct_merchant00000001', created: false });
    await expect(
      stack.rpc.request('accounts.accounts.create', { account_id: 'acct_merchant00000001', kind: 'merchant', currency: 'USD', owner_name: 'Shop' }),
    ).rejects.toMatchObject({ status: 409 });
    expect(await stack.rpc.request('accounts.balances.get', { account_id: 'acct_merchant00000001' })).toEqual({
      object: 'balance',
      currency: 'EUR',
      posted: '0',
      pending: '0',
      available: '0',
    });
    const account = await wallet('CNY');
    expect(await stack.rpc.request('accounts.tokens.verify', { token: account.token })).toEqual({ account_id: account.id, currency: 'CNY', credential: expect.stringMatching(/^tok_/) });
    await expect(stack.rpc.request('accounts.tokens.verify', { token: 'at_wrong' })).rejects.toMatchObject({ status: 401 });
    await expect(stack.rpc.request('accounts.transfers.post', { transfer_id: 'x', currency: 'USD', lines: [] })).rejects.toMatchObject({ status: 400 });
  });

  it('finds a balance that no longer matches its postings, and a ledger that does not conserve money', async () => {
    const account = await wallet();
    await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${account.id}/deposits`, { amount: 1_000 }, { idempotencyKey: `v-${account.id}` });
    expect((await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).body).toMatchObject({ ok: true });
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    // Tamper behind the service's back (as a bug or a bad manual fix would).
    await client.query('UPDATE accounts.balances SET credits_posted = credits_posted + 1 WHERE account_id = $1', [account.id]);
    const verify = await adminFetch<{ ok: boolean; problems: string[] }>(stack, 'accounts', 'GET', '/v1/ledger/verify');
    await client.query('UPDATE accounts.balances SET credits_posted = credits_posted - 1 WHERE account_id = $1', [account.id]);
    await client.end();
    expect(verify.body.ok).toBe(false);
    expect(verify.body.problems.some((problem) => problem.includes(account.id) && problem.includes('differs from its postings'))).toBe(true);
    expect(verify.body.problems.some((problem) => problem.includes('USD is not conserved'))).toBe(true);
    expect((await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).body).toMatchObject({ ok: true });
    expect((await holderGet(account, '/v1/ledger/verify')).status).toBe(403);
  });

  it('refuses to change the journal: entries and postings are append-only', async () => {
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    await expect(client.query('UPDATE accounts.postings SET amount = amount + 1')).rejects.toThrow(/append-only/);
    await expect(client.query('DELETE FROM accounts.journal_entries')).rejects.toThrow(/append-only/);
    await client.end();
  });

  it('refuses postings that name a journal entry or an account that does not exist', async () => {
    const account = await wallet();
    await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${account.id}/deposits`, { amount: 100 }, { idempotencyKey: `orphan-${account.id}` });
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    const insert = (id: string, entry_id: string, account_id: string) =>
      client.query(
        `INSERT INTO accounts.postings (id, entry_id, line_index, account_id, direction, amount, currency, balance_after)
         VALUES ($1, $2, 9, $3, 'credit', 1, 'USD', 1)`,
        [id, entry_id, account_id],
      );
    try {
      const entry: { entry_id: string } = (await client.query('SELECT entry_id FROM accounts.postings WHERE account_id = $1', [account.id])).rows[0];
      await expect(insert('txn_orphan1', 'no-such-entry', account.id)).rejects.toMatchObject({ code: '23503', message: expect.stringMatching(/journal entry no-such-entry/) });
      await expect(insert('txn_orphan2', entry.entry_id, 'acct_nobody')).rejects.toMatchObject({ code: '23503', message: expect.stringMatching(/account acct_nobody/) });
      expect((await client.query(`SELECT count(*)::int AS n FROM accounts.postings WHERE id LIKE 'txn_orphan%'`)).rows[0]).toEqual({ n: 0 });
    } finally {
      await client.end();
    }
    expect((await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).body).toMatchObject({ ok: true });
  });

  it('answers an HTTP/1.1 request without a Host header with 400 in the error envelope, not a bare 400', async () => {
    const { port } = new URL(stack.urls.accounts as string);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end('GET /v1/ledger/verify HTTP/1.1\r\nConnection: close\r\n\r\n'));
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('utf8')));
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { type: 'invalid_request_error', code: 'parameter_invalid' } });
  });
});
