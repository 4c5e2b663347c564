import type { INestApplication } from '@nestjs/common';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsNames, type NatsNames, newId, type PlatformEvent } from '@paynet/contracts';
import { createServiceApp, NATS_CONNECTION, parseConfig } from '@paynet/platform';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AppModule } from '../../src/app.module.js';
import { push_config_schema, type PushConfig } from '../../src/config.js';
import { consumer_name } from '../../src/events/events.consumer.js';
import { FakeServices } from './fake-services.js';

export const postgres_url = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const nats_url = process.env['TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** The push app in-process, on its own database and NATS prefix, with fake merchants and accounts. */
export interface PushReplica {
  app: INestApplication;
  base_url: string;
}

export interface PushHarness extends PushReplica {
  /** Boots one more replica on the same database and NATS prefix. */
  addReplica(): Promise<PushReplica>;
  names: NatsNames;
  fakes: FakeServices;
  js: JetStreamClient;
  publish(event: PlatformEvent, msg_id?: string): Promise<string>;
  /** True once the durable consumer has processed everything published so far. */
  consumerIdle(): Promise<boolean>;
  close(): Promise<void>;
}

export async function startPush(options: { retry_scale: number }): Promise<PushHarness> {
  const run = randomBytes(5).toString('hex');
  const database = `push_test_${run}`;
  await admin((client) => client.query(`CREATE DATABASE ${database}`));
  const names = natsNames(`pt${run}`);
  const fakes = await FakeServices.start(nats_url, names.prefix);
  const config = parseConfig(push_config_schema, {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl(database),
    DATABASE_POOL_SIZE: '5',
    NATS_URL: nats_url,
    NATS_PREFIX: names.prefix,
    ADMIN_TOKEN: `admin_${randomBytes(12).toString('hex')}`,
    SECRETS_KEY: randomBytes(32).toString('base64'),
    WEBHOOK_RETRY_SCALE: String(options.retry_scale),
    WEBHOOK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
  });
  const replicas: PushReplica[] = [await startReplica(config)];
  const { app, base_url } = replicas[0] as PushReplica;
  const publisher: NatsConnection = await connect({ servers: nats_url, name: 'push-test-publisher' });
  const js = jetstream(publisher);
  const jsm = await jetstreamManager(publisher);
  return {
    app,
    base_url,
    names,
    fakes,
    js,
    async addReplica() {
      const replica = await startReplica(config);
      replicas.push(replica);
      return replica;
    },
    async publish(event, msg_id = event.id) {
      await js.publish(names.eventSubject(event.type), JSON.stringify(event), { msgID: msg_id });
      return JSON.stringify(event);
    },
    async consumerIdle() {
      const info = await jsm.consumers.info(names.events_stream, consumer_name);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    async close() {
      for (const replica of replicas) {
        const nc = replica.app.get<NatsConnection>(NATS_CONNECTION);
        await replica.app.close();
        // The platform leaves its JetStream connection open; a test run must not.
        await nc.close();
      }
      await jsm.streams.delete(names.events_stream).catch(() => undefined);
      await publisher.close();
      await fakes.close();
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    },
  };
}

async function startReplica(config: PushConfig): Promise<PushReplica> {
  const app = await createServiceApp({ service: 'push', config, port: 0, module: AppModule.forConfig(config) });
  await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  return { app, base_url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
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

/** Polls until `check` answers something truthy; fails with `what` after the timeout. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

export async function eventually<T>(what: string, check: () => T | Promise<T>, timeout_ms = 10_000): Promise<Truthy<T>> {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function databaseUrl(name: string): string {
  const url = new URL(postgres_url);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgres_url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
