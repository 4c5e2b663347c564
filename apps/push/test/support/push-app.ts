import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { natsNames, type NatsNames, newId, type PlatformEvent } from '@paynet/contracts';
import { type InProcessStack, type ServiceDefinitionForTest, startInProcess } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../../src/app.module.js';
import { push_config_schema } from '../../src/config.js';
import { consumer_name } from '../../src/events/events.consumer.js';
import { FakeServices } from './fake-services.js';

/**
 * push in process (libs/testing's in-process stack: its own database and NATS
 * prefix), with fakes standing in for merchants and accounts on that prefix,
 * and a publisher playing payments' outbox publisher.
 */
export interface PushWorld {
  stack: InProcessStack;
  /** The first replica's URL. */
  base_url: string;
  names: NatsNames;
  fakes: FakeServices;
  /** push's own tables (schema `push`), to read or age what it stored. */
  database: pg.Pool;
  publish(event: PlatformEvent, msg_id?: string): Promise<string>;
  /** True once the durable consumer has processed everything published so far. */
  consumerIdle(): Promise<boolean>;
  /**
   * One more replica on the same database and NATS prefix (its own settings
   * on top); stopped with the world. A test may close any replica first (a
   * crash or a restart): closing again is a no-op.
   */
  startReplica(env?: Record<string, string>): Promise<{ url: string; app: NestExpressApplication }>;
}

/** Starts the world before the spec's tests and stops it after them; its fields are set once beforeAll has run. */
export function usePush(env: Record<string, string> = {}): PushWorld {
  const world = {} as PushWorld;
  let stop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    stop = await startPush(world, env);
  });
  afterAll(async () => {
    await stop?.();
  });
  return world;
}

function pushDefinition(env: Record<string, string>): ServiceDefinitionForTest {
  return {
    service: 'push',
    schema: push_config_schema,
    module: AppModule.forConfig,
    // Retry delays scaled by 1e-4: all eight attempts take about ten seconds.
    env: { WEBHOOK_RETRY_SCALE: '0.0001', WEBHOOK_ALLOW_PRIVATE: 'true', ...env },
  };
}

async function startPush(world: PushWorld, env: Record<string, string>): Promise<() => Promise<void>> {
  const stack = await startInProcess([pushDefinition(env)]);
  // The stack's own NATS (permissions on): the fakes and the publisher log in as its operator.
  const natsUrl = stack.nats.url;
  const operator = stack.nats.access('operator');
  closeOnce(stack.apps['push'] as NestExpressApplication);
  const names = natsNames(stack.natsPrefix);
  const fakes = await FakeServices.start(natsUrl, names.prefix, operator);
  const publisher: NatsConnection = await connect({ servers: natsUrl, name: 'push-test-publisher', ...operator });
  const js = jetstream(publisher);
  const jsm = await jetstreamManager(publisher);
  const database = new pg.Pool({ connectionString: stack.databaseUrl, max: 2, options: '-c search_path=push' });
  Object.assign(world, {
    stack,
    base_url: stack.urls['push'],
    names,
    fakes,
    database,
    async publish(event: PlatformEvent, msg_id = event.id) {
      await js.publish(names.eventSubject(event.type), JSON.stringify(event), { msgID: msg_id });
      return JSON.stringify(event);
    },
    async consumerIdle() {
      const info = await jsm.consumers.info(names.events_stream, consumer_name);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    async startReplica(replica_env: Record<string, string> = {}) {
      const replica = await stack.startReplica(pushDefinition({ ...env, ...replica_env }));
      closeOnce(replica.app);
      return replica;
    },
  } satisfies PushWorld);
  return async () => {
    await database.end();
    await publisher.close();
    await fakes.close();
    await stack.stop();
  };
}

/** A second close() (the stack's, after the test's own) waits for the first instead of tearing down twice. */
function closeOnce(app: NestExpressApplication): void {
  const close = app.close.bind(app);
  let closing: Promise<void> | undefined;
  app.close = () => (closing ??= close());
}

export function makeEvent(input: { merchant: string | null; account?: string | null; type?: PlatformEvent['type'] }): PlatformEvent {
  return {
    id: newId('evt'),
    object: 'event',
    type: input.type ?? 'payment_intent.created',
    created: Math.floor(Date.now() / 1_000),
    merchant: input.merchant,
    account: input.account ?? null,
    data: { object: { id: newId('pi'), object: 'payment_intent', amount: 1234, currency: 'USD', status: 'requires_payment' } },
  };
}
