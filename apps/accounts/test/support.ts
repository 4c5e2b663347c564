import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type AccountObject, natsNames, type PlaceHoldCommand, type PlatformEvent, type PostTransferCommand } from '@paynet/contracts';
import { adminFetch, type InProcessStack, startInProcess } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';

/** Shared by the accounts integration tests. */

/** A USD wallet made by the operator, funded by a deposit when `amount` > 0. */
export async function fundedWallet(stack: InProcessStack, amount: number): Promise<AccountObject> {
  const created = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: 'Holder' });
  expect(created.status).toBe(201);
  if (amount > 0) {
    const deposit = await adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${created.body.id}/deposits`, { amount }, { idempotencyKey: `fund-${created.body.id}` });
    expect(deposit.status).toBe(201);
  }
  return created.body;
}

/** A two-line USD transfer command as payments would send it. */
export function transferCommand(id: string, from: string, to: string, amount: number, description = 'test'): PostTransferCommand {
  return {
    transfer_id: id,
    currency: 'USD',
    description,
    lines: [
      { account: from, direction: 'debit', amount_minor: String(amount) },
      { account: to, direction: 'credit', amount_minor: String(amount) },
    ],
  };
}

/** A USD hold command as payments would send it, expiring in an hour unless `overrides` say otherwise. */
export function holdCommand(hold_id: string, from: string, to: string, amount: number, overrides: Partial<PlaceHoldCommand> = {}): PlaceHoldCommand {
  return {
    hold_id,
    currency: 'USD',
    debit_account: from,
    credit_account: to,
    amount_minor: String(amount),
    expires_at: Math.floor(Date.now() / 1000) + hour_seconds,
    description: 'Payment to Shop (order 1)',
    payment_intent: 'pi_test',
    ...overrides,
  };
}

const hour_seconds = 3_600;

/** accounts in process, as the events tests start it (`env` on top of the defaults). */
export function accountsDefinition(env: Record<string, string> = {}) {
  return { service: 'accounts' as const, schema: accounts_config_schema, module: AppModule.forConfig, env };
}

/** What the events tests read: the stack, its database (accounts' schema) and NATS as the operator, for one describe. */
export interface EventsWorld {
  stack: InProcessStack;
  database: pg.Client;
  operator: NatsConnection;
}

/** Starts accounts before the describe's tests and stops it after; the world is filled once it is up. */
export function useEventsWorld(definition: ReturnType<typeof accountsDefinition>): EventsWorld {
  const world = {} as EventsWorld;
  beforeAll(async () => {
    world.stack = await startInProcess([definition]);
    world.database = new pg.Client({ connectionString: world.stack.databaseUrl, options: '-c search_path=accounts' });
    await world.database.connect();
    world.operator = await connect({ ...world.stack.nats.access('operator'), servers: world.stack.nats.url });
  });
  afterAll(async () => {
    await world.operator?.close();
    await world.database?.end();
    await world.stack?.stop();
  });
  return world;
}

/** Every event on the stack's events stream, in stream order (JetStream direct reads, as the operator). */
export async function eventsOnStream(world: EventsWorld): Promise<PlatformEvent[]> {
  const names = natsNames(world.stack.natsPrefix);
  const stream = await (await jetstreamManager(world.operator)).streams.get(names.events_stream);
  const { state } = await stream.info();
  const events: PlatformEvent[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const message = await stream.getMessage({ seq });
    if (message) events.push(message.json<PlatformEvent>());
  }
  return events;
}
