import {
  buildStackEnv,
  type DatabaseRoles,
  dropDatabaseRoles,
  errorMessage,
  generateDatabaseRoles,
  findFreePort,
  generateAdminToken,
  generateSecretsKey,
  serviceDatabaseEnv,
  serviceEntry,
  serviceNames,
  startService,
  type ServiceHandle,
  type ServiceName,
} from '@paynet/devstack';
import { join, relative } from 'node:path';
import { ensureBuilt } from './build.js';
import { createTestDatabase, type TestDatabase, type TestInfra } from './infra.js';
import { uniqueNatsPrefix } from './names.js';
import { openStackNats, startStackNats, type StackNats } from './stack-nats.js';
import { makeRunLogDir } from './test-logs.js';
import { workspaceRoot } from './workspace.js';

/**
 * Test stacks are not rate limited unless a test says so (its env): a test
 * file makes its principals with one operator token from one address, far
 * faster than API.md's defaults allow, and some send more requests at once
 * than a principal may have pending. apps/e2e/test/rate-limits.spec.ts and
 * fair-admission.spec.ts set small bounds and check them. Requests in flight
 * keep their default bound: waiting for a slot refuses nothing.
 */
export const test_rate_limits: Readonly<Record<string, string>> = {
  RATE_LIMIT_PER_SECOND: '1000000',
  RATE_LIMIT_UNAUTHENTICATED_PER_SECOND: '1000000',
  MAX_PENDING_REQUESTS_PER_PRINCIPAL: '100000',
};

export interface StartStackOptions {
  /** Which services to start; all four by default. Every one gets a port and a URL either way. */
  services?: readonly ServiceName[];
  /** Added to every service's environment, after the defaults. */
  env?: Record<string, string>;
  /** Added to one service's environment, after `env`. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Build first (once per process, skipped when dist is fresh). Default true. */
  build?: boolean;
  /** Compiled entry points, by default dist/apps/<name>/src/main.js. */
  entries?: Partial<Record<ServiceName, string>>;
  ready_timeout_ms?: number;
  /** PostgreSQL and NATS servers to use instead of the shared test ones (a chaos run owns and crashes its own). */
  infra?: TestInfra;
  /**
   * Each service runs as its own database role with DML only, the database's
   * owner migrating (default true, docs/SECURITY.md); false: one URL, the
   * owner's, for everything (what a user who sets only DATABASE_URL gets).
   */
  databaseRoles?: boolean;
}

export interface Stack {
  urls: Readonly<Record<ServiceName, string>>;
  adminToken: string;
  natsPrefix: string;
  natsUrl: string;
  /** The stack's NATS: its users' credentials when permissions are on (startStackNats). */
  nats: StackNats;
  /** The database as its owner (tables, triggers, grants: what a test inspects or tampers with). */
  databaseUrl: string;
  /** The database as `name`'s runtime role, as the service connects (the owner's URL when databaseRoles is false). */
  serviceDatabaseUrl(name: ServiceName): string;
  /** Where each service's output goes: <logDir>/<service>.log */
  logDir: string;
  services: readonly ServiceName[];
  isRunning(name: ServiceName): boolean;
  /** The last lines a service printed since it last started. */
  logTail(name: ServiceName, count?: number): string[];
  /** Stops the services, drops the database, stops the stack's nats-server (or deletes its streams on a shared one). */
  stop(): Promise<void>;
  /**
   * Stops the service (if running) and starts it again with the same
   * settings, plus `env` when given (kept for later restarts; a variable set
   * to undefined is removed); waits until ready.
   */
  restart(name: ServiceName, env?: Record<string, string | undefined>): Promise<void>;
  /** SIGKILL: a crash. Start it again with restart(). */
  kill(name: ServiceName): Promise<void>;
  /** SIGSTOP: the service hangs with its connections open; resume() continues it. */
  pause(name: ServiceName): void;
  resume(name: ServiceName): void;
}

// Four Nest services booting at once on a shared 2-core machine.
const stack_ready_timeout_ms = 90_000;
const log_tail_lines = 30;
const port_attempts_max = 20;
// Log folders of earlier runs kept for reading after a failure; older ones are removed.

/**
 * A whole platform for one end-to-end test file: its own database, NATS
 * prefix, ports, tokens and log folder, sharing PostgreSQL and NATS servers.
 */
export async function startStack(options: StartStackOptions = {}): Promise<Stack> {
  const root = workspaceRoot();
  if (options.build ?? true) await ensureBuilt(root, (line) => process.stderr.write(`${line}\n`));
  const database = await createTestDatabase('paynet_test', options.infra);
  const natsPrefix = uniqueNatsPrefix();
  // A run that owns its servers (chaos: it crashes them) brings an open nats-server of its own.
  const nats = await (options.infra ? Promise.resolve(openStackNats(options.infra.natsUrl, natsPrefix)) : startStackNats(natsPrefix)).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  const natsUrl = nats.url;
  const ports = await distinctFreePorts();
  const adminToken = generateAdminToken();
  const env = {
    ...buildStackEnv({
      databaseUrl: database.url,
      natsUrl,
      natsPrefix,
      adminToken,
      secretsKey: generateSecretsKey(),
      ports,
      webhookRetryScale: 0.001,
      webhookAllowPrivate: true,
    }),
    ...test_rate_limits,
    ...options.env,
  };
  const logDir = makeRunLogDir(join(root, 'tmp', 'test-logs'), natsPrefix);
  const roles = (options.databaseRoles ?? true) ? generateDatabaseRoles(database.name) : undefined;
  const runner = new StackRunner({ root, env, ports, logDir, options, nats, roles, database });
  const stack = runner.describe({ natsPrefix, adminToken });
  try {
    await runner.startAll(options.services ?? serviceNames);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}


async function distinctFreePorts(): Promise<Record<ServiceName, number>> {
  const chosen = new Set<number>();
  for (let attempt = 0; attempt < port_attempts_max && chosen.size < serviceNames.length; attempt++) {
    chosen.add(await findFreePort());
  }
  const ports = [...chosen];
  if (ports.length < serviceNames.length) throw new Error('could not find four distinct free ports');
  return Object.fromEntries(serviceNames.map((name, index) => [name, ports[index]])) as Record<ServiceName, number>;
}

interface RunnerSettings {
  root: string;
  env: Record<string, string>;
  ports: Record<ServiceName, number>;
  logDir: string;
  options: StartStackOptions;
  nats: StackNats;
  /** Each service's own database role, or none: the owner's URL for all. */
  roles: DatabaseRoles | undefined;
  database: TestDatabase;
}

/** Owns the service processes of one stack. */
class StackRunner {
  private readonly handles = new Map<ServiceName, ServiceHandle>();
  /** What restart(name, env) added to a service's environment. */
  private readonly extra_env = new Map<ServiceName, Record<string, string | undefined>>();
  private stopped = false;

  constructor(private readonly settings: RunnerSettings) {}

  async startAll(names: readonly ServiceName[]): Promise<void> {
    const results = await Promise.allSettled(names.map((name) => this.start(name)));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [errorMessage(result.reason)] : []));
    if (failures.length > 0) throw new Error(`the stack did not start:\n${failures.join('\n\n')}`);
  }

  async start(name: ServiceName): Promise<void> {
    const { root, env, ports, logDir, options, nats } = this.settings;
    const handle = startService({
      name,
      entry: options.entries?.[name] ?? serviceEntry(root, name),
      // Each service logs in to NATS and PostgreSQL as itself.
      env: withoutUnset({ ...env, ...nats.serviceEnv(name), ...this.databaseEnv(name), ...options.serviceEnv?.[name], ...this.extra_env.get(name) }),
      port: ports[name],
      logFile: join(logDir, `${name}.log`),
      cwd: root,
      unref: true, // the reaper ends it if a test file forgets stop()
    });
    this.handles.set(name, handle);
    try {
      await handle.waitReady(options.ready_timeout_ms ?? stack_ready_timeout_ms);
    } catch (error) {
      const log = relative(process.cwd(), join(logDir, `${name}.log`));
      throw new Error(`${errorMessage(error)}\nlast lines of ${log}:\n${handle.tail(log_tail_lines).join('\n')}`);
    }
  }

  private databaseEnv(name: ServiceName): Record<string, string> {
    const { roles, database } = this.settings;
    return roles ? serviceDatabaseEnv(database.url, roles, name) : {};
  }

  async restart(name: ServiceName, env?: Record<string, string | undefined>): Promise<void> {
    if (env !== undefined) {
      const merged: Record<string, string | undefined> = { ...this.extra_env.get(name), ...env };
      this.extra_env.set(name, merged);
    }
    await this.handles.get(name)?.stop();
    await this.start(name);
  }

  async kill(name: ServiceName): Promise<void> {
    await this.handles.get(name)?.kill();
  }

  async stopAll(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.handles.values()].map((handle) => handle.stop()));
  }

  describe(run: { natsPrefix: string; adminToken: string }): Stack {
    const { ports, logDir, options, nats, database, roles } = this.settings;
    const urls = Object.fromEntries(serviceNames.map((name) => [name, `http://127.0.0.1:${ports[name]}`])) as Record<ServiceName, string>;
    return {
      urls,
      adminToken: run.adminToken,
      natsPrefix: run.natsPrefix,
      natsUrl: nats.url,
      nats,
      databaseUrl: database.url,
      serviceDatabaseUrl: (name) => this.databaseEnv(name)['DATABASE_URL'] ?? database.url,
      logDir,
      services: options.services ?? serviceNames,
      isRunning: (name) => this.handles.get(name)?.running ?? false,
      logTail: (name, count = log_tail_lines) => this.handles.get(name)?.tail(count) ?? [],
      restart: (name, env) => this.restart(name, env),
      kill: (name) => this.kill(name),
      pause: (name) => this.handles.get(name)?.pause(),
      resume: (name) => this.handles.get(name)?.resume(),
      stop: async () => {
        await this.stopAll();
        await database.drop();
        if (roles) await dropDatabaseRoles(database.adminUrl, roles);
        await nats.stop();
      },
    };
  }
}

function withoutUnset(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
