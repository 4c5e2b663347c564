import { type AccountObject, ApiError, type GetHoldReply, type GetTransferReply, PlatformAccount, type TransferReply } from '@paynet/contracts';
import { holdRowLocks, type HeldRowLocks, type InProcessStack, jsonFetch, startInProcess } from '@paynet/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { HoldsService } from '../src/holds/holds.service.js';
import { LedgerService } from '../src/ledger/ledger.service.js';
import { TransferBatcher } from '../src/ledger/transfer-batcher.js';
import { fundedWallet, transferCommand } from './support.js';

const accounts = { service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig } as const;
/** Long enough for a paused replica to be resumed before its caller gives up. */
const paused_copy_timeout_ms = 60_000;

/** What a command came to: its result, or the status and code of its refusal. */
async function outcome(answer: Promise<{ result: string }>): Promise<string> {
  try {
    return (await answer).result;
  } catch (error) {
    if (error instanceof ApiError) return `${error.status} ${error.code}`;
    throw error;
  }
}

async function posted(stack: InProcessStack, account: AccountObject): Promise<number> {
  const answer = await jsonFetch<{ posted: number }>(`${stack.urls.accounts}/v1/accounts/${account.id}/balance`, {
    headers: { authorization: `Bearer ${account.token}` },
  });
  return answer.body.posted;
}

async function journalCount(stack: InProcessStack, id: string): Promise<number> {
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    const rows = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts.journal_entries WHERE id = $1', [id]);
    return rows.rows[0]?.n ?? -1;
  } finally {
    await client.end();
  }
}

/** A deposit straight through the ledger of `app` (another replica's HTTP may be paused). */
function deposit(app: NestExpressApplication, account: AccountObject, amount: number, id: string): Promise<TransferReply> {
  return app.get(LedgerService).postTransfer({
    transfer_id: id,
    currency: 'USD',
    description: 'deposit',
    lines: [
      { account: PlatformAccount.funding, direction: 'debit', amount_minor: String(amount) },
      { account: account.id, direction: 'credit', amount_minor: String(amount) },
    ],
  });
}

function lockBalanceOf(stack: InProcessStack, account: AccountObject): Promise<HeldRowLocks> {
  return holdRowLocks(stack.databaseUrl, 'SELECT 1 FROM accounts.balances WHERE account_id = $1 FOR UPDATE', [account.id]);
}

/**
 * Every transfer and hold id has one final outcome. Two accounts replicas in
 * process; a held lock on the payer's balance row makes two copies of one
 * command wait at the same point, their statements begun, so the second runs
 * only after the first has committed: the interleaving that used to refuse it.
 */
describe('a transfer or hold id has one final outcome', () => {
  let stack: InProcessStack;
  let replica: NestExpressApplication;
  const first = () => stack.apps['accounts'] as NestExpressApplication;

  beforeAll(async () => {
    stack = await startInProcess([accounts]);
    replica = (await stack.startReplica(accounts)).app;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** Both copies wait behind the held lock, then go on one after the other. */
  async function copiesBehindLock(payer: AccountObject, send: () => Promise<string>[]): Promise<string[]> {
    const lock = await lockBalanceOf(stack, payer);
    let answers: Promise<string[]>;
    try {
      answers = Promise.all(send());
      await lock.untilWaiting(2);
    } finally {
      await lock.release();
    }
    return (await answers).sort();
  }

  it.each([
    ['payment', 'wallet pays the shop'],
    ['refund', 'shop refunds the wallet'],
  ])('answers a %s transfer sent twice at once, from two replicas, applied and already_applied even when it takes the whole balance', async (kind) => {
    const amount = 700;
    const wallet = await fundedWallet(stack, kind === 'payment' ? amount : 0);
    const shop = await fundedWallet(stack, kind === 'refund' ? amount : 0);
    const [from, to] = kind === 'payment' ? [wallet, shop] : [shop, wallet];
    const command = transferCommand(`same-${kind}`, from.id, to.id, amount);
    const results = await copiesBehindLock(from, () => [
      outcome(first().get(TransferBatcher).submit(command)),
      outcome(replica.get(TransferBatcher).submit(command)),
    ]);
    expect(results).toEqual(['already_applied', 'applied']);
    expect(await posted(stack, from)).toBe(0);
    expect(await posted(stack, to)).toBe(amount);
    expect(await journalCount(stack, command.transfer_id)).toBe(1);
  });

  function holdInput(hold_id: string, wallet: AccountObject, shop: AccountObject, amount_minor: bigint) {
    return { hold_id, currency: 'USD' as const, debit_account: wallet.id, credit_account: shop.id, amount_minor, expires_at: Math.floor(Date.now() / 1000) + 3_600, description: 'hold' };
  }

  it('answers a hold placed twice at once, from two replicas, applied and already_applied even when it holds the whole balance', async () => {
    const [wallet, shop] = [await fundedWallet(stack, 700), await fundedWallet(stack, 0)];
    const input = holdInput('same-hold', wallet, shop, 700n);
    const results = await copiesBehindLock(wallet, () => [outcome(first().get(HoldsService).place(input)), outcome(replica.get(HoldsService).place(input))]);
    expect(results).toEqual(['already_applied', 'applied']);
    const held = await stack.rpc.request<GetHoldReply>('accounts.holds.get', { hold_id: 'same-hold' });
    expect(held).toMatchObject({ found: true, state: 'pending', amount_minor: '700' });
  });

  it('refuses every later copy of a refused transfer the same way, even once the money is there, and says it was refused', async () => {
    const [wallet, shop] = [await fundedWallet(stack, 50), await fundedWallet(stack, 0)];
    const command = transferCommand('refused-1', wallet.id, shop.id, 100);
    expect(await outcome(first().get(TransferBatcher).submit(command))).toBe('402 insufficient_funds');
    await deposit(first(), wallet, 100, 'refused-1-deposit');
    expect(await outcome(replica.get(TransferBatcher).submit(command))).toBe('402 insufficient_funds');
    expect(await outcome(stack.rpc.request<TransferReply>('accounts.transfers.post', command))).toBe('402 insufficient_funds');
    // The same id with other content is a conflict, not the refusal of another command.
    expect(await outcome(first().get(TransferBatcher).submit({ ...command, lines: transferCommand('x', wallet.id, shop.id, 10).lines }))).toBe(
      '409 transfer_exists_with_different_fields',
    );
    const reply = await stack.rpc.request<GetTransferReply>('accounts.transfers.get', { transfer_id: 'refused-1' });
    expect(reply).toMatchObject({ found: false, refused: { status: 402, error: { code: 'insufficient_funds' } } });
    expect(await posted(stack, wallet)).toBe(150);
    expect(await journalCount(stack, 'refused-1')).toBe(0);
  });

  it('refuses every later copy of a refused hold the same way, even once the money is there, and says it was refused', async () => {
    const [wallet, shop] = [await fundedWallet(stack, 50), await fundedWallet(stack, 0)];
    const input = holdInput('refused-hold', wallet, shop, 100n);
    expect(await outcome(first().get(HoldsService).place(input))).toBe('402 insufficient_funds');
    await deposit(first(), wallet, 100, 'refused-hold-deposit');
    expect(await outcome(replica.get(HoldsService).place(input))).toBe('402 insufficient_funds');
    expect(await outcome(replica.get(HoldsService).place({ ...input, amount_minor: 10n }))).toBe('409 hold_exists_with_different_fields');
    const reply = await stack.rpc.request<GetHoldReply>('accounts.holds.get', { hold_id: 'refused-hold' });
    expect(reply).toMatchObject({ found: false, refused: { status: 402, error: { code: 'insufficient_funds' } } });
    const balance = await jsonFetch<{ available: number }>(`${stack.urls.accounts}/v1/accounts/${wallet.id}/balance`, {
      headers: { authorization: `Bearer ${wallet.token}` },
    });
    expect(balance.body.available).toBe(150);
  });
});

/**
 * A replica frozen (SIGSTOP) while it holds a copy of a transfer: the other
 * replica refuses the transfer, the money arrives, and the frozen one resumes.
 * It must answer the same refusal and apply nothing.
 */
describe('a paused accounts replica resuming with a copy of a refused transfer', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    // Accounts as a process (the one paused); the in-process replica starts once the copy is in the paused one's hands.
    stack = await startInProcess([], { neighbours: ['accounts'] });
  });

  afterAll(async () => {
    stack?.neighbours.resume('accounts');
    await stack?.stop();
  });

  it('answers the same refusal and applies nothing', async () => {
    const [wallet, shop] = [await fundedWallet(stack, 50), await fundedWallet(stack, 0)];
    const command = transferCommand('late-copy', wallet.id, shop.id, 100);
    stack.neighbours.pause('accounts');
    // The only subscriber is the paused process: the copy waits in its socket.
    const late = outcome(stack.rpc.request<TransferReply>('accounts.transfers.post', command, { timeout_ms: paused_copy_timeout_ms }));
    const replica = (await stack.startReplica(accounts)).app;
    expect(await outcome(replica.get(TransferBatcher).submit(command))).toBe('402 insufficient_funds');
    await deposit(replica, wallet, 100, 'late-copy-deposit');
    stack.neighbours.resume('accounts');
    expect(await late).toBe('402 insufficient_funds');
    expect(await journalCount(stack, 'late-copy')).toBe(0);
    expect(await replica.get(LedgerService).getTransfer('late-copy')).toMatchObject({ found: false, refused: { status: 402 } });
  });
});
