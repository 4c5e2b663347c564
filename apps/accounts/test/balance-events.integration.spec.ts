import type { NestExpressApplication } from '@nestjs/platform-express';
import { type BalanceEventObject, IdPrefix, newId, type PlatformEvent } from '@paynet/contracts';
import { OutboxPublisher, withTransaction } from '@paynet/platform';
import { waitFor } from '@paynet/testing';
import { DataSource } from 'typeorm';
import { LedgerService } from '../src/ledger/ledger.service.js';
import { accountsDefinition, eventsOnStream, fundedWallet, holdCommand, transferCommand, useEventsWorld } from './support.js';

/** Short, so the expiry test waits a fraction of a second past expiry. */
const sweep_interval_ms = 200;
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 15_000;

type BalanceEvent = PlatformEvent<BalanceEventObject>;

/**
 * `account.balance_updated` over real PostgreSQL and NATS JetStream: every
 * change of a wallet's balance writes one event, with the balance after that
 * change, in the change's own transaction (accounts' outbox), and each is
 * put on the events stream once.
 */
describe('account.balance_updated, from the ledger to the events stream', () => {
  const definition = accountsDefinition({ HOLD_SWEEP_INTERVAL_MS: String(sweep_interval_ms) });
  const world = useEventsWorld(definition);

  const app = () => world.stack.apps['accounts'] as NestExpressApplication;

  async function merchantAccount(): Promise<string> {
    const account_id = newId(IdPrefix.account);
    await world.stack.rpc.request('accounts.accounts.create', { account_id, kind: 'merchant', currency: 'USD', owner_name: 'Shop' });
    return account_id;
  }

  /** The events accounts wrote about `account`, in the order written (published or not). */
  async function written(account: string): Promise<BalanceEvent[]> {
    const { rows } = await world.database.query<{ payload: string }>(`SELECT payload FROM outbox WHERE payload::jsonb ->> 'account' = $1 ORDER BY seq`, [account]);
    return rows.map((row) => JSON.parse(row.payload) as BalanceEvent);
  }

  /** What a holder would read from the events: posted, pending, available after each change. */
  async function steps(account: string): Promise<[number, number, number][]> {
    return (await written(account)).map(({ data: { object } }) => [object.posted, object.pending, object.available]);
  }

  const onStream = () => eventsOnStream(world);

  async function unpublished(): Promise<number> {
    const { rows } = await world.database.query<{ count: number }>('SELECT count(*)::int AS count FROM outbox WHERE published_at IS NULL');
    return rows[0]?.count ?? -1;
  }

  const hold = holdCommand;

  it("writes a deposit's event with the wallet's balance object (API.md), and none for the funding account", async () => {
    const wallet = await fundedWallet(world.stack, 10_000);
    const [event] = await written(wallet.id);
    expect(await written(wallet.id)).toHaveLength(1);
    expect(event).toEqual({
      id: expect.stringMatching(/^evt_/),
      object: 'event',
      type: 'account.balance_updated',
      created: expect.any(Number),
      merchant: null,
      account: wallet.id,
      data: { object: { object: 'balance', account: wallet.id, currency: 'USD', posted: 10_000, pending: 0, available: 10_000 } },
    });
    expect(await written('acct_fundingUSD')).toEqual([]);
  });

  it('writes one event per wallet per transfer of a batch, each with the balance that transfer left, in order; none for a merchant or a refusal', async () => {
    const [payer, payee, shop] = [await fundedWallet(world.stack, 10_000), await fundedWallet(world.stack, 0), await merchantAccount()];
    const ledger = app().get(LedgerService);
    // One transaction, two statements, as the batcher runs it: the payer is moved four times and refused once.
    const outcomes = await withTransaction(app().get(DataSource), (manager) =>
      ledger.applyBatch(manager, [
        transferCommand('ev-1', payer.id, shop, 1_000),
        transferCommand('ev-2', payer.id, payee.id, 2_000),
        transferCommand('ev-3', payer.id, shop, 50_000),
        transferCommand('ev-1', payer.id, shop, 1_000),
        transferCommand('ev-4', shop, payee.id, 500),
        transferCommand('ev-5', payer.id, shop, 3_000),
      ]),
    );
    expect(outcomes.map((outcome) => (outcome.ok ? outcome.reply.result : outcome.error.code))).toEqual([
      'applied',
      'applied',
      'insufficient_funds',
      'already_applied',
      'applied',
      'applied',
    ]);
    expect(await steps(payer.id)).toEqual([
      [10_000, 0, 10_000],
      [9_000, 0, 9_000],
      [7_000, 0, 7_000],
      [4_000, 0, 4_000],
    ]);
    expect(await steps(payee.id)).toEqual([
      [2_000, 0, 2_000],
      [2_500, 0, 2_500],
    ]);
    expect(await written(shop)).toEqual([]);
  });

  it('writes nothing when the change rolls back: the events are in its transaction', async () => {
    const [payer, shop] = [await fundedWallet(world.stack, 1_000), await merchantAccount()];
    const ledger = app().get(LedgerService);
    const rolled_back = new Error('the caller failed after the transfer');
    await expect(
      withTransaction(app().get(DataSource), async (manager) => {
        const [outcome] = await ledger.applyBatch(manager, [transferCommand('rb-1', payer.id, shop, 400)]);
        expect(outcome).toMatchObject({ ok: true, reply: { result: 'applied' } });
        throw rolled_back;
      }),
    ).rejects.toBe(rolled_back);
    await expect(ledger.postTransfer(transferCommand('rb-2', payer.id, shop, 1_001))).rejects.toMatchObject({ code: 'insufficient_funds' });
    expect(await steps(payer.id)).toEqual([[1_000, 0, 1_000]]);
  });

  it('writes an event when a hold is placed, captured (the rest released, the fee from the merchant) and voided, and when one expires', async () => {
    const [payer, shop] = [await fundedWallet(world.stack, 10_000), await merchantAccount()];
    await world.stack.rpc.request('accounts.holds.place', hold('ev-h1', payer.id, shop, 4_000));
    await world.stack.rpc.request('accounts.holds.post', { hold_id: 'ev-h1', amount_minor: '3000', fee_minor: '60' });
    await world.stack.rpc.request('accounts.holds.place', hold('ev-h2', payer.id, shop, 1_000));
    await world.stack.rpc.request('accounts.holds.void', { hold_id: 'ev-h2' });
    const expires_at = Math.floor(Date.now() / 1000) + 2;
    await world.stack.rpc.request('accounts.holds.place', hold('ev-h3', payer.id, shop, 500, { expires_at }));
    // A re-send changes nothing, and says nothing.
    await world.stack.rpc.request('accounts.holds.place', hold('ev-h3', payer.id, shop, 500, { expires_at }));
    await waitFor(async () => (await written(payer.id)).length === 7, { timeout_ms, description: 'the sweeper releases ev-h3' });
    expect(await steps(payer.id)).toEqual([
      [10_000, 0, 10_000],
      [10_000, 4_000, 6_000],
      [7_000, 0, 7_000],
      [7_000, 1_000, 6_000],
      [7_000, 0, 7_000],
      [7_000, 500, 6_500],
      [7_000, 0, 7_000],
    ]);
    expect(await written(shop)).toEqual([]);
  });

  it('puts each event on the events stream once: after a stop before publishing, and when one is published again', async () => {
    await waitFor(async () => (await unpublished()) === 0, { timeout_ms, description: 'every event published and marked' });
    // The publisher stops as in a crash after the commit, before the publish: the next change waits in the outbox.
    await app().get(OutboxPublisher).beforeApplicationShutdown();
    const wallet = await fundedWallet(world.stack, 700);
    expect(await unpublished()).toBe(1);
    expect((await onStream()).map((event) => event.account)).not.toContain(wallet.id);

    // Another process starts on the same database: its fallback publishes what was left, once it is a few seconds old.
    const replica = await world.stack.startReplica(definition);
    await waitFor(async () => (await unpublished()) === 0, { timeout_ms, description: "the replica's fallback publishes it" });
    // A process that published and failed to mark the rows (a crash between the two): the fallback publishes them again, the stream drops the copies.
    await world.database.query(`UPDATE outbox SET published_at = NULL, created_at = created_at - interval '1 minute'`);
    await replica.app.get(OutboxPublisher).markAndRecover();
    await waitFor(async () => (await unpublished()) === 0, { timeout_ms, description: 'every row published again' });

    const stream = await onStream();
    const { rows } = await world.database.query<{ event_id: string }>('SELECT event_id FROM outbox');
    expect(stream.map((event) => event.id).sort()).toEqual(rows.map((row) => row.event_id).sort());
    expect(stream.filter((event) => event.account === wallet.id)).toEqual(await written(wallet.id));
  });
});
