import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsNames, type PostTransferCommand, Subjects } from '@paynet/contracts';
import type { NatsUserName } from '@paynet/devstack';
import { createHolder, holderBalance } from '@paynet/testing';
import { randomUUID } from 'node:crypto';
import { useEndToEndWorld } from './world.js';

const request_timeout_ms = 5_000;

/**
 * The bus as an attacker inside the network sees it (issue 15.1): without
 * credentials nothing; with one service's credentials only what that service
 * does. The stack runs on its own nats-server configured from the devstack
 * table (nats-users.ts), as `npm start` and compose run it.
 */
describe('the NATS bus lets each service do only its own part', () => {
  const world = useEndToEndWorld();
  const open: NatsConnection[] = [];
  afterAll(async () => {
    for (const connection of open) await connection.close();
  });

  /** A connection as `user`, replies on its own inbox, as the service would connect. */
  async function connectAs(user: NatsUserName): Promise<NatsConnection> {
    const { nats, natsPrefix } = world.stack;
    const connection = await connect({ ...nats.access(user), servers: nats.url, inboxPrefix: natsNames(natsPrefix).inboxPrefix(user), reconnect: false });
    open.push(connection);
    return connection;
  }

  /** A request in Nest's wire format; answers the decoded reply. */
  async function call(connection: NatsConnection, pattern: string, data: object): Promise<{ response?: unknown; err?: unknown }> {
    const subject = natsNames(world.stack.natsPrefix).request(pattern);
    const reply = await connection.request(subject, JSON.stringify({ pattern, data, id: randomUUID() }), { timeout: request_timeout_ms });
    return reply.json();
  }

  function transfer(from: string, to: string, amount_minor: number): PostTransferCommand {
    return {
      transfer_id: `tr_${randomUUID()}`,
      currency: 'USD',
      description: 'moved over the bus',
      lines: [
        { account: from, direction: 'debit', amount_minor: String(amount_minor) },
        { account: to, direction: 'credit', amount_minor: String(amount_minor) },
      ],
    };
  }

  it('runs with permissions on: every service logs in as its own user', () => {
    expect(world.stack.nats.users).toBeDefined();
  });

  it('refuses a client without credentials, and one with a wrong password', async () => {
    const { url } = world.stack.nats;
    await expect(connect({ servers: url, reconnect: false, timeout: request_timeout_ms })).rejects.toThrow(/authorization violation/i);
    const wrong = { ...world.stack.nats.access('payments'), pass: 'not-the-password' };
    await expect(connect({ ...wrong, servers: url, reconnect: false, timeout: request_timeout_ms })).rejects.toThrow(/authorization violation/i);
  });

  it("does not let push's credentials post a transfer, which payments' credentials may", async () => {
    const [payer, payee] = await Promise.all([createHolder(world.stack, { amount: 10_000 }), createHolder(world.stack)]);
    const push = await connectAs('push');
    const stolen = transfer(payer.id, payee.id, 2_500);
    await expect(call(push, Subjects.accounts.transfersPost, stolen)).rejects.toThrow(/permissions violation for publish/i);
    const payments = await connectAs('payments');
    expect(await call(payments, Subjects.accounts.transfersGet, { transfer_id: stolen.transfer_id })).toMatchObject({ response: { found: false } });
    expect(await holderBalance(payer)).toMatchObject({ posted: 10_000 });

    const allowed = await call(payments, Subjects.accounts.transfersPost, transfer(payer.id, payee.id, 2_500));
    expect(allowed.err).toBeUndefined();
    expect(await holderBalance(payer)).toMatchObject({ posted: 7_500 });
    expect(await holderBalance(payee)).toMatchObject({ posted: 2_500 });
  });

  it("does not let push's credentials publish an event, nor read the balances merchants may", async () => {
    const names = natsNames(world.stack.natsPrefix);
    const push = await connectAs('push');
    const forged = { id: `evt_${randomUUID()}`, type: 'payment_intent.succeeded' };
    await expect(push.request(names.eventSubject(forged.type), JSON.stringify(forged), { timeout: request_timeout_ms })).rejects.toThrow(
      /permissions violation for publish/i,
    );
    await expect(jetstream(push).publish(names.eventSubject(forged.type), JSON.stringify(forged), { msgID: forged.id })).rejects.toThrow();
    const operator = await connectAs('operator');
    const stream = await (await jetstreamManager(operator)).streams.get(names.events_stream);
    await expect(stream.getMessage({ last_by_subj: names.eventSubject(forged.type) })).resolves.toBeNull();

    await expect(call(push, Subjects.accounts.balancesGet, { account_id: 'acct_any' })).rejects.toThrow(/permissions violation for publish/i);
  });

  it("lets each service publish only its own events: payments' credentials no balance update, accounts' no payment", async () => {
    const names = natsNames(world.stack.natsPrefix);
    const forgeries = [
      { user: 'payments', event: { id: `evt_${randomUUID()}`, type: 'account.balance_updated' } },
      { user: 'accounts', event: { id: `evt_${randomUUID()}`, type: 'payment_intent.succeeded' } },
      { user: 'accounts', event: { id: `evt_${randomUUID()}`, type: 'refund.succeeded' } },
    ] as const;
    for (const { user, event } of forgeries) {
      const connection = await connectAs(user);
      await expect(jetstream(connection).publish(names.eventSubject(event.type), JSON.stringify(event), { msgID: event.id, timeout: request_timeout_ms })).rejects.toThrow();
    }
    const operator = await connectAs('operator');
    const stream = await (await jetstreamManager(operator)).streams.get(names.events_stream);
    const { state } = await stream.info();
    const published: string[] = [];
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      published.push((await stream.getMessage({ seq }))?.json<{ id: string }>().id ?? '');
    }
    for (const { event } of forgeries) expect(published).not.toContain(event.id);
  });

  it('lets no one but merchants answer signing requests', async () => {
    const subject = natsNames(world.stack.natsPrefix).request(Subjects.merchants.webhooksSign);
    for (const user of ['payments', 'push', 'accounts'] as const) {
      const impostor = await connectAs(user);
      const subscription = impostor.subscribe(subject);
      const closed = await subscription.closed;
      expect(String(closed)).toMatch(/permissions violation for subscription/i);
    }
  });
});
