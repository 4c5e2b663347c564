import type { DynamicModule } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  dropDatabaseRoles,
  findFreePort,
  generateDatabaseRoles,
  serviceDatabaseEnv,
  type ServiceHandle,
  type ServiceName,
  serviceEntry,
  startService,
} from '@paynet/devstack';
import { join } from 'node:path';
import { ensureBuilt } from './build.js';
import { makeRunLogDir } from './test-logs.js';
import { workspaceRoot } from './workspace.js';
import { type BaseConfig, createServiceApp, parseConfig, PrefixedClientNats, RpcClient } from '@paynet/platform';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { createTestDatabase, type TestDatabase } from './infra.js';
import { uniqueNatsPrefix } from './names.js';
import { startStackNats, type StackNats } from './stack-nats.js';
import { test_rate_limits } from './stack.js';

export interface ServiceDefinitionForTest {
  service: ServiceName;
  schema: z.ZodType<BaseConfig & object>;
  module: (config: never) => DynamicModule;
  /** Added to this service's environment. */
  env?: Record<string, string>;
}

export interface InProcessStack {
  urls: Record<string, string>;
  adminToken: string;
  natsPrefix: string;
  /** The database as its owner (tables, triggers, grants: what a test inspects or tampers with). */
  databaseUrl: string;
  /** The database as `name`'s runtime role, as the service connects (the owner's URL when databaseRoles is false). */
  serviceDatabaseUrl(name: ServiceName): string;
  /** The stack's NATS: its users' credentials when permissions are on (startStackNats). */
  nats: StackNats;
  apps: Record<string, NestExpressApplication>;
  /** A NATS client on the stack's prefix, as another service would call (logged in as the operator user: it may call anything). */
  rpc: RpcClient;
  /**
   * Another replica of a service, in process, on the same database, NATS
   * prefix and secrets (its own `env` on top): replicas with different
   * settings, or several behind one "load balancer" in a test. Stopped with the stack.
   * (@nestjs/typeorm warns that the default data source name is registered
   * twice; each app still has its own data source.)
   */
  startReplica(definition: ServiceDefinitionForTest): Promise<{ url: string; app: NestExpressApplication }>;
  /** Faults in a neighbour process: hang it, crash it, start it again. */
  neighbours: Neighbours;
  stop(): Promise<void>;
}

/** The neighbour processes of an in-process stack, by name; each keeps its port and settings across restarts. */
export interface Neighbours {
  /** SIGSTOP: it hangs with its NATS and database connections open; what is sent to it waits in its sockets. */
  pause(name: ServiceName): void;
  /** SIGCONT: it carries on with what arrived while paused. */
  resume(name: ServiceName): void;
  /** SIGKILL: a crash; whatever it had not read is gone. */
  kill(name: ServiceName): Promise<void>;
  /** Starts a killed (or stops and restarts a running) neighbour on the same port; waits until ready. */
  restart(name: ServiceName): Promise<void>;
}

const rpc_timeout_ms = 5_000;
const neighbour_ready_timeout_ms = 60_000;

export interface InProcessOptions {
  /**
   * Services the ones under test call, started as real processes on the same
   * database and NATS prefix (an app may not import another app).
   */
  neighbours?: readonly ServiceName[];
  /**
   * Each service runs as its own database role with DML only, the database's
   * owner migrating (default true, docs/SECURITY.md); false: one URL, the
   * owner's, for everything (what a user who sets only DATABASE_URL gets).
   */
  databaseRoles?: boolean;
}

/**
 * Services as Nest apps inside the test process: one fresh database (each
 * service in its own schema, as deployed), one NATS prefix, real HTTP on
 * ephemeral ports. Faster than processes, for a service's integration tests.
 */
export async function startInProcess(definitions: readonly ServiceDefinitionForTest[], options: InProcessOptions = {}): Promise<InProcessStack> {
  const database: TestDatabase = await createTestDatabase();
  const nats_prefix = uniqueNatsPrefix();
  const nats = await startStackNats(nats_prefix).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  const natsUrl = nats.url;
  const common = {
    DATABASE_URL: database.url,
    NATS_URL: natsUrl,
    NATS_PREFIX: nats_prefix,
    ADMIN_TOKEN: randomBytes(24).toString('hex'),
    SECRETS_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
    WEBHOOK_RETRY_SCALE: '0.001',
    ...test_rate_limits,
  };
  const apps: Record<string, NestExpressApplication> = {};
  const urls: Record<string, string> = {};
  const rpc = new RpcClient({
    client: new PrefixedClientNats({ url: natsUrl, prefix: common.NATS_PREFIX, queue: 'test', name: 'test-client', access: nats.access('operator') }),
    default_timeout_ms: rpc_timeout_ms,
  });
  const roles = (options.databaseRoles ?? true) ? generateDatabaseRoles(database.name) : undefined;
  const databaseEnv = (name: ServiceName): Record<string, string> => (roles ? serviceDatabaseEnv(database.url, roles, name) : {});
  const neighbours = new NeighbourProcesses(common, nats, databaseEnv);
  const replicas: NestExpressApplication[] = [];
  const stop = async () => {
    await rpc.onApplicationShutdown();
    for (const app of [...Object.values(apps), ...replicas].reverse()) await app.close();
    await neighbours.stopAll();
    await database.drop();
    if (roles) await dropDatabaseRoles(database.adminUrl, roles);
    await nats.stop();
  };
  try {
    for (const name of options.neighbours ?? []) urls[name] = await neighbours.start(name, await findFreePort());
    for (const definition of definitions) {
      const started = await startApp(definition, { ...common, ...databaseEnv(definition.service) }, nats);
      apps[definition.service] = started.app;
      urls[definition.service] = started.url;
    }
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const startReplica = async (definition: ServiceDefinitionForTest) => {
    const started = await startApp(definition, { ...common, ...databaseEnv(definition.service) }, nats);
    replicas.push(started.app);
    return started;
  };
  const serviceDatabaseUrl = (name: ServiceName) => databaseEnv(name)['DATABASE_URL'] ?? database.url;
  return { urls, adminToken: common.ADMIN_TOKEN, natsPrefix: common.NATS_PREFIX, databaseUrl: database.url, serviceDatabaseUrl, nats, apps, rpc, startReplica, neighbours, stop };
}

async function startApp(
  definition: ServiceDefinitionForTest,
  common: Record<string, string>,
  nats: StackNats,
): Promise<{ url: string; app: NestExpressApplication }> {
  const config = parseConfig(definition.schema, { ...common, ...nats.serviceEnv(definition.service), ...definition.env });
  const app = await createServiceApp({ service: definition.service, config, port: 0, module: definition.module(config as never) });
  try {
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

class NeighbourProcesses implements Neighbours {
  private readonly handles = new Map<ServiceName, ServiceHandle>();
  private log_dir: string | undefined;

  constructor(
    private readonly env: Record<string, string>,
    private readonly nats: StackNats,
    private readonly databaseEnv: (name: ServiceName) => Record<string, string>,
  ) {}

  /** Starts `name` as a process on `port`; answers its URL once it is ready. */
  async start(name: ServiceName, port: number): Promise<string> {
    const root = workspaceRoot();
    await ensureBuilt(root, (line) => process.stderr.write(`${line}\n`));
    this.log_dir ??= makeRunLogDir(join(root, 'tmp', 'test-logs'), `in-process-${this.env['NATS_PREFIX']}`);
    const log_dir = this.log_dir;
    const env = { ...this.env, ...this.nats.serviceEnv(name), ...this.databaseEnv(name) };
    const neighbour = startService({ name, entry: serviceEntry(root, name), env, port, logFile: join(log_dir, `${name}.log`), cwd: root });
    this.handles.set(name, neighbour);
    await neighbour.waitReady(neighbour_ready_timeout_ms);
    return neighbour.url;
  }

  pause(name: ServiceName): void {
    this.handle(name).pause();
  }

  resume(name: ServiceName): void {
    this.handle(name).resume();
  }

  async kill(name: ServiceName): Promise<void> {
    await this.handle(name).kill();
  }

  async restart(name: ServiceName): Promise<void> {
    const previous = this.handle(name);
    await previous.stop();
    await this.start(name, previous.port);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.handles.values()].map((handle) => handle.stop()));
  }

  private handle(name: ServiceName): ServiceHandle {
    const handle = this.handles.get(name);
    if (!handle) throw new Error(`${name} is not a neighbour of this stack`);
    return handle;
  }
}
