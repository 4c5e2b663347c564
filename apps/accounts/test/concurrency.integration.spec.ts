import type { AccountObject, TransferReply } from '@paynet/contracts';
import { adminFetch, type InProcessStack, jsonFetch, startInProcess } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { ledger_batch_size } from '../src/ledger/ledger.metrics.js';
import { LedgerService } from '../src/ledger/ledger.service.js';
import { TransferBatcher } from '../src/ledger/transfer-batcher.js';
import { fundedWallet, transferCommand } from './support.js';

const wallets_count = 4;
const transfers_count = 96;
const funding_per_wallet = 10_000;

/** Many transfers at once over real PostgreSQL and NATS: nothing lost, nothing applied twice, no deadlock. */
describe('the ledger under concurrent transfers', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig }]);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function posted(account: AccountObject): Promise<number> {
    return (await jsonFetch<{ posted: number }>(`${stack.urls.accounts}/v1/accounts/${account.id}/balance`, { headers: { authorization: `Bearer ${account.token}` } })).body.posted;
  }

  it('applies every transfer id exactly once among a few wallets and one hot merchant, and the ledger verifies', async () => {
    const wallets = await Promise.all(Array.from({ length: wallets_count }, () => fundedWallet(stack, funding_per_wallet)));
    const hot = await fundedWallet(stack, 0);
    const commands = Array.from({ length: transfers_count }, (_, index) => {
      const from = wallets[index % wallets_count] as AccountObject;
      // Most go to the hot merchant; some between wallets (both directions, so lock order matters).
      const to = index % 3 === 0 ? (wallets[(index + 1) % wallets_count] as AccountObject) : hot;
      return transferCommand(`c-${index}`, from.id, to.id, 100 + (index % 7));
    });
    // Every command is sent, and a third of them a second time at once, as a client whose first answer timed out would.
    const sends = [...commands, ...commands.filter((_, index) => index % 3 === 1)];
    const answers = await Promise.allSettled(sends.map((command) => stack.rpc.request<TransferReply>('accounts.transfers.post', command)));
    expect(answers.filter((answer) => answer.status === 'rejected')).toEqual([]);
    const replies = answers.map((answer) => (answer as PromiseFulfilledResult<TransferReply>).value);
    expect(replies.filter((reply) => reply.result === 'applied')).toHaveLength(transfers_count);
    for (const command of commands) {
      const same_id = replies.filter((reply) => reply.transfer_id === command.transfer_id);
      expect(new Set(same_id.map((reply) => reply.line_ids.join()))).toHaveProperty('size', 1);
    }

    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    const entries = await client.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM accounts.journal_entries WHERE id LIKE 'c-%'`);
    await client.end();
    expect(entries.rows[0]).toEqual({ n: transfers_count, d: transfers_count });

    const moved_to_hot = commands.filter((_, index) => index % 3 !== 0).reduce((sum, command) => sum + Number(command.lines[0]?.amount_minor), 0);
    expect(await posted(hot)).toBe(moved_to_hot);
    const balances = await Promise.all(wallets.map(posted));
    expect(balances.reduce((sum, balance) => sum + balance, 0) + moved_to_hot).toBe(wallets_count * funding_per_wallet);
    const verify = await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify');
    expect(verify.body).toMatchObject({ ok: true, problems: [] });
  });

  it('applies transfers submitted together in one database transaction', async () => {
    const [payer, shop] = [await fundedWallet(stack, 10_000), await fundedWallet(stack, 0)];
    const batcher = stack.apps['accounts']?.get(TransferBatcher) as TransferBatcher;
    const before = await batchCount();
    const replies = await Promise.all(Array.from({ length: 64 }, (_, index) => batcher.submit(transferCommand(`b-${index}`, payer.id, shop.id, 10))));
    expect(replies.every((reply) => reply.result === 'applied')).toBe(true);
    expect((await batchCount()) - before).toBe(1);
    expect(await posted(shop)).toBe(640);
  });

  it('fails an insufficient-funds transfer alone: its neighbours in the batch are applied', async () => {
    const [rich, poor, shop] = [await fundedWallet(stack, 1_000), await fundedWallet(stack, 50), await fundedWallet(stack, 0)];
    const batcher = stack.apps['accounts']?.get(TransferBatcher) as TransferBatcher;
    const results = await Promise.allSettled([
      batcher.submit(transferCommand('n-1', rich.id, shop.id, 100)),
      batcher.submit(transferCommand('n-2', poor.id, shop.id, 51)),
      batcher.submit(transferCommand('n-3', rich.id, shop.id, 200)),
      batcher.submit(transferCommand('n-4', poor.id, shop.id, 50)),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ status: 402, code: 'insufficient_funds' });
    // Its message names no account: it reaches callers (through payments) who must not learn ledger account ids.
    for (const account of [poor, shop]) expect((results[1] as PromiseRejectedResult).reason.message).not.toContain(account.id);
    expect(await posted(shop)).toBe(350);
    expect(await posted(poor)).toBe(0);
  });

  it('applies a transfer id once when separate transactions race to apply it (replicas, re-sends)', async () => {
    const [payer, shop] = [await fundedWallet(stack, 10_000), await fundedWallet(stack, 0)];
    const ledger = stack.apps['accounts']?.get(LedgerService) as LedgerService;
    // Each postTransfer is a transaction of its own, as on two replicas: they wait on the same balance rows,
    // and all but the first find the id taken (seen at once, or when their insert falls short and they run again).
    const replies = await Promise.all(Array.from({ length: 12 }, () => ledger.postTransfer(transferCommand('race-1', payer.id, shop.id, 250))));
    expect(replies.filter((reply) => reply.result === 'applied')).toHaveLength(1);
    expect(replies.filter((reply) => reply.result === 'already_applied')).toHaveLength(11);
    expect(new Set(replies.map((reply) => reply.line_ids.join()))).toHaveProperty('size', 1);
    expect(await posted(shop)).toBe(250);
    expect(await posted(payer)).toBe(9_750);
  });

  it('answers an applied transfer sent again several times in one batch as already applied, with its own lines', async () => {
    const [payer, shop] = [await fundedWallet(stack, 1_000), await fundedWallet(stack, 0)];
    const batcher = stack.apps['accounts']?.get(TransferBatcher) as TransferBatcher;
    const first = await batcher.submit(transferCommand('again-1', payer.id, shop.id, 40));
    const again = await Promise.all([1, 2, 3].map(() => batcher.submit(transferCommand('again-1', payer.id, shop.id, 40))));
    expect(again.map((reply) => reply.result)).toEqual(['already_applied', 'already_applied', 'already_applied']);
    expect(again.map((reply) => reply.line_ids)).toEqual([first.line_ids, first.line_ids, first.line_ids]);
    expect(await posted(shop)).toBe(40);
  });

  async function batchCount(): Promise<number> {
    const metric = await ledger_batch_size.get();
    return metric.values.find((value) => value.metricName === 'paynet_ledger_batch_size_count')?.value ?? 0;
  }
});
