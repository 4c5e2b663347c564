/**
 * `npm start`: the whole platform on one machine. PostgreSQL (embedded,
 * unless DATABASE_URL) and nats-server with JetStream (unless NATS_URL), each
 * on a free port with its data under .data/; the four services from dist/;
 * demo data through the public API; then the URLs and credentials to try it.
 * A service that crashes is restarted (supervisor.ts); one `npm start` per
 * folder (start-lock.ts). Ctrl-C stops everything in order and exits 0.
 */
import {
  buildStackEnv,
  type DatabaseRoles,
  ensureDatabase,
  ensureNats,
  ensurePostgres,
  errorMessage,
  findWorkspaceRoot,
  generateAdminToken,
  generateDatabaseRoles,
  generateNatsUsers,
  generateSecretsKey,
  isPortFree,
  isValidAdminToken,
  isValidSecretsKey,
  redactUrl,
  serviceDatabaseEnv,
  serviceEntry,
  serviceNames,
  servicePortsFromEnv,
  servicePortVariable,
  serviceNatsEnv,
  startService,
  stopLeftover,
  type NatsUsers,
  type ServiceHandle,
  type ServiceName,
} from '@paynet/devstack';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DemoDataError, demoDashboardUrl, ensureDemoData, type DemoData } from './demo-data.js';
import { readOrCreateSecret } from './secrets.js';
import { acquireStartLock, StartLockHeld } from './start-lock.js';
import { formatSummary } from './summary.js';
import { Supervisor } from './supervisor.js';

// Four Nest services booting together, migrations included, on a small machine.
const services_ready_timeout_ms = 180_000;
const progress_interval_ms = 5_000;
const database_name = 'paynet';
const default_nats_prefix = 'paynet';
// Settings a developer may set for the services; they win over our defaults.
const passed_through = ['WEBHOOK_RETRY_SCALE', 'WEBHOOK_ALLOW_PRIVATE', 'LOG_LEVEL', 'SECRETS_KEY_PREVIOUS'] as const;
// With NATS_URL, how the services log in to that server is the developer's to say.
const nats_access_settings = ['NATS_USER', 'NATS_PASSWORD', 'NATS_CREDS', 'NATS_TLS_CA', 'NATS_TLS_CERT', 'NATS_TLS_KEY'] as const;

const root = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
const data = join(root, '.data');
const paths = {
  postgres: join(data, 'postgres'),
  nats: join(data, 'nats'),
  logs: join(data, 'logs'),
  pids: join(data, 'run'),
  lock: join(data, 'start.lock'),
  adminToken: join(data, 'admin-token'),
  secretsKey: join(data, 'secrets-key'),
  natsOperator: join(data, 'nats-operator.json'),
  databaseRoles: join(data, 'database-roles.json'),
  demo: join(data, 'demo.json'),
};

const say = (line: string) => process.stdout.write(`${line}\n`);
const show = (path: string) => relative(root, path) || '.';
const supervisor = new Supervisor(say);

async function main(): Promise<void> {
  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(paths.pids, { recursive: true });
  // Before anything that stops leftovers: those would be the running stack's own processes.
  const lock = acquireStartLock(paths.lock, say);
  process.on('exit', () => lock.release());
  supervisor.handleSignals();
  say(`paynet: starting the local stack (data in ${show(data)}, logs in ${show(paths.logs)})`);
  const ports = servicePortsFromEnv();
  await stopLeftoverServices();
  await assertPortsFree(ports);
  const natsPrefix = process.env['NATS_PREFIX'] || default_nats_prefix;
  const { databaseUrl, databaseRoles, natsUrl, natsUsers } = await startInfrastructure(natsPrefix);
  const adminToken = loadAdminToken();
  const env = buildStackEnv({ databaseUrl, natsUrl, natsPrefix, adminToken, secretsKey: loadSecretsKey(), ports });
  for (const name of passed_through) if (process.env[name]) env[name] = process.env[name];
  const services = serviceNames.map((name) =>
    startOne(name, { ...env, ...natsAccessEnv(natsUsers, name), ...(databaseRoles ? serviceDatabaseEnv(databaseUrl, databaseRoles, name) : {}) }, ports[name]),
  );
  await waitForServices(services);
  const urls = Object.fromEntries(services.map((service) => [service.name, service.url])) as Record<ServiceName, string>;
  const demo = await makeDemoData(urls, adminToken);
  const dashboardUrl = await makeDashboardUrl(urls, adminToken, demo);
  const usesOwnPostgres = !process.env['DATABASE_URL'];
  const usesOwnNats = !process.env['NATS_URL'];
  const summary = formatSummary({
    urls,
    adminToken,
    demo,
    dashboardUrl,
    databaseUrl,
    natsUrl,
    natsPrefix,
    paths: { postgres: usesOwnPostgres ? show(paths.postgres) : undefined, nats: usesOwnNats ? show(paths.nats) : undefined, logs: show(paths.logs), demo: show(paths.demo) },
  });
  for (const line of summary) say(line);
}

/** Services of an earlier run that was killed outright (its safety net too) would hold our ports. */
async function stopLeftoverServices(): Promise<void> {
  for (const name of serviceNames) {
    await stopLeftover({ pidFile: join(paths.pids, `${name}.pid`), binary: 'node', marker: serviceEntry(root, name), what: name }, say);
  }
}

async function assertPortsFree(ports: Record<ServiceName, number>): Promise<void> {
  for (const name of serviceNames) {
    if (await isPortFree(ports[name])) continue;
    const variable = servicePortVariable(name);
    throw new Error(`port ${ports[name]} (${variable}) is in use: is another \`npm start\` running? Stop it, or set ${variable} to a free port`);
  }
}

async function startInfrastructure(
  natsPrefix: string,
): Promise<{ databaseUrl: string; databaseRoles: DatabaseRoles | undefined; natsUrl: string; natsUsers: NatsUsers | undefined }> {
  // Never the machine's own 5432 / 4222: those belong to someone else.
  const postgres = await ensurePostgres({ dataDir: paths.postgres, preferExisting: false, log: say, logFile: join(paths.logs, 'postgres.log'), detached: true });
  supervisor.addInfra(postgres);
  if (!postgres.started) say(`PostgreSQL: using DATABASE_URL (${redactUrl(postgres.url)})`);
  // Users and permissions from the devstack table, fresh passwords every run.
  const users = generateNatsUsers();
  const nats = await ensureNats({
    dataDir: paths.nats,
    preferExisting: false,
    log: say,
    logFile: join(paths.logs, 'nats.log'),
    detached: true,
    auth: { prefix: natsPrefix, users },
  });
  supervisor.addInfra(nats);
  if (!nats.started) say(`NATS: using NATS_URL (${redactUrl(nats.url)})`);
  if (nats.started) saveOperatorCredentials(nats.url, users);
  // DATABASE_URL names the services' database itself; our own server gets one made for them.
  const databaseUrl = postgres.started ? await ensureDatabase(postgres.url, database_name) : postgres.url;
  // Our own server: each service its own role with DML only, the owner migrating. A given DATABASE_URL: that one URL for everything.
  const databaseRoles = postgres.started ? loadDatabaseRoles() : undefined;
  if (databaseRoles) say(`PostgreSQL: each service connects as its own role (${Object.values(databaseRoles).map((role) => role.user).join(', ')}); migrations run as the owner`);
  return { databaseUrl, databaseRoles, natsUrl: nats.url, natsUsers: nats.started ? users : undefined };
}

/** The operator's NATS login of this run, for a developer's own tools (`nats --user operator --password ...`). */
function saveOperatorCredentials(url: string, users: NatsUsers): void {
  writeFileSync(paths.natsOperator, `${JSON.stringify({ url, ...users.operator }, null, 2)}\n`, { mode: 0o600 });
  say(`NATS: users and permissions on; each service logs in as itself (operator login in ${show(paths.natsOperator)})`);
}

/** Our own nats-server: each service its own generated user. A given NATS_URL: the developer's NATS settings, for every service. */
function natsAccessEnv(users: NatsUsers | undefined, name: ServiceName): Record<string, string> {
  if (users) return serviceNatsEnv(users, name);
  return Object.fromEntries(nats_access_settings.flatMap((variable) => (process.env[variable] ? [[variable, process.env[variable]]] : [])));
}

/** The services' database roles and passwords, made once and kept (the roles are created with them). */
function loadDatabaseRoles(): DatabaseRoles {
  const stored = readOrCreateSecret({
    name: 'the database roles',
    fromEnv: undefined,
    file: paths.databaseRoles,
    generate: () => JSON.stringify(generateDatabaseRoles(database_name)),
    isValid: isDatabaseRoles,
    consequence: 'the roles keep their old passwords: delete .data/postgres too',
  });
  return JSON.parse(stored.value) as DatabaseRoles;
}

function isDatabaseRoles(text: string): boolean {
  try {
    const roles = JSON.parse(text) as Partial<Record<ServiceName, { user?: unknown; password?: unknown }>>;
    return serviceNames.every((name) => typeof roles[name]?.user === 'string' && typeof roles[name]?.password === 'string');
  } catch {
    return false;
  }
}

function loadAdminToken(): string {
  return readOrCreateSecret({
    name: 'ADMIN_TOKEN',
    fromEnv: process.env['ADMIN_TOKEN'],
    file: paths.adminToken,
    generate: generateAdminToken,
    isValid: isValidAdminToken,
    consequence: 'scripts using the old token will need the new one',
  }).value;
}

function loadSecretsKey(): string {
  return readOrCreateSecret({
    name: 'SECRETS_KEY',
    fromEnv: process.env['SECRETS_KEY'],
    file: paths.secretsKey,
    generate: generateSecretsKey,
    isValid: isValidSecretsKey,
    consequence: 'secrets stored with the old key become unreadable, so delete .data/postgres too',
  }).value;
}

/** Starts `name` under the supervisor, which calls the same start again for each restart. */
function startOne(name: ServiceName, env: Record<string, string>, port: number): ServiceHandle {
  return supervisor.addService(name, () => {
    const service = startService({ name, entry: serviceEntry(root, name), env, port, logFile: join(paths.logs, `${name}.log`), cwd: root, detached: true });
    writeFileSync(join(paths.pids, `${name}.pid`), `${service.process.pid}\n`);
    return service;
  });
}

/** Waits for every /health/ready, with a progress line; on failure shows the laggards' logs. */
async function waitForServices(services: ServiceHandle[]): Promise<void> {
  const started_ms = Date.now();
  const pending = new Set(services.map((service) => service.name));
  say(`starting ${[...pending].join(', ')} (migrations run as each starts)`);
  const progress = setInterval(() => {
    const waited_s = Math.round((Date.now() - started_ms) / 1000);
    say(`  waiting for ${[...pending].join(', ')} to be ready (${waited_s} s of ${services_ready_timeout_ms / 1000} s)`);
  }, progress_interval_ms);
  try {
    await Promise.all(
      services.map(async (service) => {
        await service.waitReady(services_ready_timeout_ms);
        pending.delete(service.name);
        supervisor.markReady(service.name);
        say(`  ${service.name} ready on ${service.url} (${((Date.now() - started_ms) / 1000).toFixed(1)} s)`);
      }),
    );
  } catch (error) {
    if (supervisor.isStopping) await supervisor.shutdown(1, 'a service died'); // its watcher already reported it
    for (const service of services) if (pending.has(service.name)) supervisor.printTail(service);
    throw error;
  } finally {
    clearInterval(progress);
  }
}

async function makeDemoData(urls: Record<ServiceName, string>, adminToken: string): Promise<DemoData | { error: string }> {
  say('creating demo data through the API ...');
  try {
    return await ensureDemoData({ accountsUrl: urls.accounts, merchantsUrl: urls.merchants, adminToken, file: paths.demo });
  } catch (error) {
    const reason = error instanceof DemoDataError ? error.message : `unexpected: ${errorMessage(error)}`;
    say(`error: demo data could not be created: ${reason}`);
    return { error: reason };
  }
}

/** The demo merchant's dashboard with a fresh stream token; none (saying why) when it cannot be made. */
async function makeDashboardUrl(urls: Record<ServiceName, string>, adminToken: string, demo: DemoData | { error: string }): Promise<string | undefined> {
  if ('error' in demo) return undefined;
  try {
    return await demoDashboardUrl({ accountsUrl: urls.accounts, merchantsUrl: urls.merchants, adminToken, file: paths.demo }, urls.push, demo.merchant);
  } catch (error) {
    say(`warning: no dashboard URL: ${errorMessage(error)}`);
    return undefined;
  }
}

main().catch(async (error: unknown) => {
  say(`error: ${errorMessage(error)}`);
  if (error instanceof StartLockHeld) process.exit(1); // nothing of ours to stop
  await supervisor.shutdown(1, 'start failed');
});
