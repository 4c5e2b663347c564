import type { NestExpressApplication } from '@nestjs/platform-express';
import { type BalanceEventObject, IdPrefix, newId, type PlatformEvent, type TransferReply } from '@paynet/contracts';
import { accountOfKind } from '@paynet/ledger';
import { OutboxPruner, OutboxPublisher, OutboxStatement, withTransaction } from '@paynet/platform';
import { waitFor } from '@paynet/testing';
import { DataSource } from 'typeorm';
import { balanceEvent as walletBalanceEvent } from '../src/ledger/balance-events.js';
import { accountsDefinition, eventsOnStream, fundedWallet, transferCommand, useEventsWorld } from './support.js';

/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 20_000;

type BalanceEvent = PlatformEvent<BalanceEventObject>;

/**
 * The outbox's way to the events stream (libs/platform outbox.ts), over real
 * PostgreSQL and NATS JetStream, with accounts' `account.balance_updated`:
 * the process that commits an event publishes it before it answers; a row
 * a crash left behind is published by the fallback; a copy published again
 * is dropped by the stream; one wallet's events stay in the order of its
 * changes; published rows past their retention are deleted, and no others.
 */
describe('outbox: from the commit to the events stream', () => {
  const world = useEventsWorld(accountsDefinition());

  const app = () => world.stack.apps['accounts'] as NestExpressApplication;

  const onStream = () => eventsOnStream(world);

  async function streamCopies(event_id: string): Promise<number> {
    return (await onStream()).filter((event) => event.id === event_id).length;
  }

  /** The outbox rows of `account`'s events, in the order written. */
  async function rowsOf(account: string): Promise<{ event_id: string; published: boolean }[]> {
    const { rows } = await world.database.query<{ event_id: string; published: boolean }>(
      `SELECT event_id, published_at IS NOT NULL AS published FROM outbox WHERE payload::jsonb ->> 'account' = $1 ORDER BY seq`,
      [account],
    );
    return rows;
  }

  /** A balance event of a wallet no change touched: what a writer puts in the outbox. */
  function balanceEvent(): BalanceEvent {
    const wallet = accountOfKind('wallet', newId(IdPrefix.account), 'USD');
    return walletBalanceEvent(wallet, { debits_posted: 0n, credits_posted: 1n, debits_pending: 0n, credits_pending: 0n }) as BalanceEvent;
  }

  it('publishes a change\'s event once, before the change is answered, and marks its row published', async () => {
    const wallet = await fundedWallet(world.stack, 1_000);
    // The deposit was answered: its event is on the stream already (the fallback would take seconds).
    const [row] = await rowsOf(wallet.id);
    expect(row).toBeDefined();
    expect(await streamCopies(row?.event_id ?? '')).toBe(1);
    await waitFor(async () => (await rowsOf(wallet.id)).every((r) => r.published), { timeout_ms, description: 'the row marked published' });
    expect(await streamCopies(row?.event_id ?? '')).toBe(1);
  });

  it('publishes an event whose process died between the commit and the publish (the fallback), once', async () => {
    const event = balanceEvent();
    const statement = app().get(OutboxStatement);
    // A writer that commits and never publishes, as a process killed right after its COMMIT.
    await withTransaction(app().get(DataSource), (manager) =>
      manager.query(`WITH ${statement.ctes(1)} SELECT ${statement.columns}`, statement.params([event])),
    );
    expect(await streamCopies(event.id)).toBe(0);
    expect(await rowsOf(event.account ?? '')).toEqual([{ event_id: event.id, published: false }]);
    // The fallback of any replica publishes it once it is a few seconds old, and marks it.
    await waitFor(async () => (await rowsOf(event.account ?? '')).every((r) => r.published), { timeout_ms, description: 'the fallback publishes it' });
    expect(await onStream()).toContainEqual(event);
    expect(await streamCopies(event.id)).toBe(1);
  });

  it('does not put an event on the stream twice when its process died after the publish, before the mark', async () => {
    const wallet = await fundedWallet(world.stack, 500);
    const [row] = await rowsOf(wallet.id);
    await waitFor(async () => (await rowsOf(wallet.id)).every((r) => r.published), { timeout_ms, description: 'the row marked published' });
    // As if the mark never happened, and the row is old enough for the fallback: it is published again.
    await world.database.query(`UPDATE outbox SET published_at = NULL, created_at = created_at - interval '30 seconds' WHERE event_id = $1`, [row?.event_id]);
    await app().get(OutboxPublisher).markAndRecover();
    await waitFor(async () => (await rowsOf(wallet.id)).every((r) => r.published), { timeout_ms, description: 'the row published again and marked' });
    // JetStream dropped the copy (Nats-Msg-Id = event id, within the duplicate window).
    expect(await streamCopies(row?.event_id ?? '')).toBe(1);
  });

  it("keeps one wallet's events in the order of its changes under concurrent transfers", async () => {
    const [payer, payee] = [await fundedWallet(world.stack, 100_000), await fundedWallet(world.stack, 0)];
    const transfers = Array.from({ length: 40 }, (_, index) => transferCommand(`ord-${payer.id}-${index}`, payer.id, payee.id, 100 + index));
    const replies = await Promise.all(transfers.map((command) => world.stack.rpc.request<TransferReply>('accounts.transfers.post', command)));
    expect(replies.every((reply) => reply.result === 'applied')).toBe(true);

    for (const wallet of [payer, payee]) {
      // The order written: each under the wallet's balance lock, so the order of its changes.
      const written = (await rowsOf(wallet.id)).map((r) => r.event_id);
      // The payer's deposit and 40 transfers; the payee's 40 (no deposit).
      expect(written).toHaveLength(wallet === payer ? 41 : 40);
      const published = (await onStream()).filter((event) => event.account === wallet.id).map((event) => event.id);
      expect(published).toEqual(written);
    }
    // And each balance is the one the previous left minus the next transfer: no step missing or swapped.
    const balances = (await onStream())
      .filter((event): event is BalanceEvent => event.account === payer.id)
      .map((event) => event.data.object.posted);
    for (let index = 1; index < balances.length; index++) expect(balances[index]).toBeLessThan(balances[index - 1] ?? 0);
  });

  it('deletes published rows past the retention, and no row unpublished or recent', async () => {
    const [old_published, recent_published] = [await fundedWallet(world.stack, 100), await fundedWallet(world.stack, 200)];
    await waitFor(async () => [...(await rowsOf(old_published.id)), ...(await rowsOf(recent_published.id))].every((r) => r.published), {
      timeout_ms,
      description: 'both published and marked',
    });
    // From here on nothing is published or marked (the last test: the publisher stops, as in a crash).
    await app().get(OutboxPublisher).beforeApplicationShutdown();
    // A row published two hours ago (the retention is one hour by default), and one written two hours ago, never published.
    await world.database.query(`UPDATE outbox SET published_at = now() - interval '2 hours' WHERE payload::jsonb ->> 'account' = $1`, [old_published.id]);
    const unpublished = balanceEvent();
    const statement = app().get(OutboxStatement);
    await withTransaction(app().get(DataSource), async (manager) => {
      await manager.query(`WITH ${statement.ctes(1)} SELECT ${statement.columns}`, statement.params([unpublished]));
      await manager.query(`UPDATE outbox SET created_at = now() - interval '2 hours' WHERE event_id = $1`, [unpublished.id]);
    });
    expect(await app().get(OutboxPruner).sweepOnce()).toBe(1);
    expect(await rowsOf(old_published.id)).toEqual([]);
    expect(await rowsOf(recent_published.id)).toEqual([{ event_id: expect.any(String), published: true }]);
    expect(await rowsOf(unpublished.account ?? '')).toEqual([{ event_id: unpublished.id, published: false }]);
  });
});
