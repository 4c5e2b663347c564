import type { AccountObject, TransferReply } from '@paynet/contracts';
import { adminFetch, type InProcessStack, jsonFetch, startInProcess } from '@paynet/testing';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet, transferCommand } from './support.js';

/** The accounts service in this process, over a database of its own and real NATS. */
describe('accounts over real PostgreSQL and NATS', () => {
  let stack: InProcessStack;
  let rpc: InProcessStack['rpc'];

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig }]);
    rpc = stack.rpc;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function balanceOf(account: AccountObject) {
    return (await jsonFetch(`${stack.urls.accounts}/v1/accounts/${account.id}/balance`, { headers: { authorization: `Bearer ${account.token}` } })).body;
  }

  it('applies a transfer id once; the same id again answers already_applied with the same lines', async () => {
    const [ann, bob] = [await fundedWallet(stack, 1_000), await fundedWallet(stack, 0)];
    const first = await rpc.request<TransferReply>('accounts.transfers.post', transferCommand('t-once', ann.id, bob.id, 300));
    const again = await rpc.request<TransferReply>('accounts.transfers.post', transferCommand('t-once', ann.id, bob.id, 300));
    expect(first.result).toBe('applied');
    expect(again).toEqual({ ...first, result: 'already_applied' });
    expect(await balanceOf(ann)).toMatchObject({ posted: 700, available: 700 });
    expect(await balanceOf(bob)).toMatchObject({ posted: 300 });
    expect(await rpc.request('accounts.transfers.get', { transfer_id: 't-once' })).toMatchObject({ found: true, line_ids: first.line_ids });
    expect(await rpc.request('accounts.transfers.get', { transfer_id: 't-never' })).toEqual({ found: false });
  });

  it('refuses the same transfer id with other content, naming what differs', async () => {
    const [ann, bob] = [await fundedWallet(stack, 1_000), await fundedWallet(stack, 0)];
    await rpc.request('accounts.transfers.post', transferCommand('t-differ', ann.id, bob.id, 100));
    await expect(rpc.request('accounts.transfers.post', transferCommand('t-differ', ann.id, bob.id, 101))).rejects.toMatchObject({
      status: 409,
      code: 'transfer_exists_with_different_fields',
    });
    expect(await balanceOf(ann)).toMatchObject({ posted: 900 });
  });

  it('applies a transfer id once even when sent many times at once', async () => {
    const [ann, bob] = [await fundedWallet(stack, 1_000), await fundedWallet(stack, 0)];
    const replies = await Promise.all(
      Array.from({ length: 16 }, () => rpc.request<TransferReply>('accounts.transfers.post', transferCommand('t-race', ann.id, bob.id, 250))),
    );
    expect(replies.filter((reply) => reply.result === 'applied')).toHaveLength(1);
    expect(new Set(replies.map((reply) => reply.line_ids.join()))).toHaveProperty('size', 1);
    expect(await balanceOf(ann)).toMatchObject({ posted: 750 });
    expect(await balanceOf(bob)).toMatchObject({ posted: 250 });
  });

  it('refuses a transfer the wallet cannot cover with 402, and changes nothing', async () => {
    const [ann, bob] = [await fundedWallet(stack, 100), await fundedWallet(stack, 0)];
    await expect(rpc.request('accounts.transfers.post', transferCommand('t-poor', ann.id, bob.id, 101))).rejects.toMatchObject({
      status: 402,
      code: 'insufficient_funds',
    });
    // A refusal is remembered: the id reads refused, for good.
    expect(await rpc.request('accounts.transfers.get', { transfer_id: 't-poor' })).toEqual({
      found: false,
      refused: { status: 402, error: expect.objectContaining({ code: 'insufficient_funds' }) },
    });
    expect(await balanceOf(ann)).toMatchObject({ posted: 100 });
    // Exactly the balance is fine.
    await rpc.request('accounts.transfers.post', transferCommand('t-exact', ann.id, bob.id, 100));
    expect(await balanceOf(ann)).toMatchObject({ posted: 0, available: 0 });
  });

  it('splits a payment with a fee to the platform fee account, and the ledger verifies', async () => {
    const [ann, shop] = [await fundedWallet(stack, 5_000), await fundedWallet(stack, 0)];
    await rpc.request('accounts.transfers.post', {
      transfer_id: 't-fee',
      currency: 'USD',
      description: 'payment',
      lines: [
        { account: ann.id, direction: 'debit', amount_minor: '1000' },
        { account: shop.id, direction: 'credit', amount_minor: '990' },
        { account: 'platform:fees', direction: 'credit', amount_minor: '10' },
      ],
    });
    expect(await balanceOf(shop)).toMatchObject({ posted: 990 });
    const verify = await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify');
    expect(verify.body).toMatchObject({ ok: true, problems: [] });
  });

  it('keeps holders to their own accounts: another holder\'s account is 404', async () => {
    const [ann, bob] = [await fundedWallet(stack, 10), await fundedWallet(stack, 10)];
    const peek = await jsonFetch(`${stack.urls.accounts}/v1/accounts/${bob.id}/balance`, { headers: { authorization: `Bearer ${ann.token}` } });
    expect(peek.status).toBe(404);
    expect(peek.body).toMatchObject({ error: { code: 'resource_missing' } });
    const bad = await jsonFetch(`${stack.urls.accounts}/v1/accounts/${bob.id}`, { headers: { authorization: 'Bearer at_not_a_token' } });
    expect(bad.status).toBe(401);
  });

  it('requires an Idempotency-Key on deposits and replays the first answer', async () => {
    const ann = await fundedWallet(stack, 0);
    const path = `/v1/accounts/${ann.id}/deposits`;
    const missing = await adminFetch(stack, 'accounts', 'POST', path, { amount: 5 });
    expect(missing.status).toBe(400);
    const first = await adminFetch(stack, 'accounts', 'POST', path, { amount: 5 }, { idempotencyKey: 'dep' });
    const replay = await adminFetch(stack, 'accounts', 'POST', path, { amount: 5 }, { idempotencyKey: 'dep' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    const reused = await adminFetch(stack, 'accounts', 'POST', path, { amount: 6 }, { idempotencyKey: 'dep' });
    expect(reused.status).toBe(422);
    expect(await balanceOf(ann)).toMatchObject({ posted: 5 });
  });
});
