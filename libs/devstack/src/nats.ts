import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ManagedChild } from './child.js';
import { foundInfra, type InfraHandle, startedInfra } from './infra.js';
import { stopLeftover } from './leftover.js';
import { natsAuthorizationConfig, natsPasswordEnv, type NatsUsers } from './nats-users.js';
import { isReachable, loopback_host, withPortRetry } from './ports.js';
import { reaper_tiers } from './reaper.js';
import { sleep } from './sleep.js';

export interface EnsureNatsOptions {
  /** JetStream's store folder for a server we start. */
  dataDir: string;
  /** Use a NATS with JetStream already on 127.0.0.1:4222 (tests only). */
  preferExisting?: boolean;
  log?: (line: string) => void;
  /** The server's own output goes here; otherwise it is kept in memory for error messages. */
  logFile?: string;
  port?: number;
  detached?: boolean;
  unref?: boolean;
  /** Remove the store folder when the server stops (tests). */
  ephemeral?: boolean;
  /** Where NATS_URL and PATH are read from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  ready_timeout_ms?: number;
  /** Users and permissions for a server we start (see nats-users.ts); without it the server is open. */
  auth?: NatsServerAuth;
  /** TLS for a server we start: clients then need the CA (NATS_TLS_CA) unless the certificate is publicly trusted. */
  tls?: NatsServerTls;
}

export interface NatsServerAuth {
  /** The NATS_PREFIX whose subjects the users are confined to. */
  prefix: string;
  users: NatsUsers;
}

export interface NatsServerTls {
  cert_file: string;
  key_file: string;
  /** The CA that signed cert_file, trusted by our own readiness probe. */
  ca_file?: string;
}

export const existing_nats_url = `nats://${loopback_host}:4222`;
export const nats_install_hint =
  'nats-server not found (looked on PATH, /usr/sbin, /usr/local/bin): install it with `sudo apt-get install nats-server` ' +
  'or from https://github.com/nats-io/nats-server/releases, or set NATS_URL to a NATS server with JetStream';
const extra_binary_folders = ['/usr/sbin', '/usr/local/bin', '/usr/bin'];
const probe_timeout_ms = 1_000;
const nats_ready_timeout_ms = 30_000;
const ready_poll_interval_ms = 100;

/**
 * NATS with JetStream for the stack: NATS_URL if set; else, when
 * preferExisting, the server on 127.0.0.1:4222 if it has JetStream; else a
 * nats-server we start on a free port with its own store folder.
 */
export async function ensureNats(options: EnsureNatsOptions): Promise<InfraHandle> {
  const env = options.env ?? process.env;
  const given = env['NATS_URL'];
  if (given) return foundInfra('nats-server', given);
  if (options.preferExisting && (await hasJetStream(existing_nats_url))) return foundInfra('nats-server', existing_nats_url);
  const binary = findNatsServer(env);
  if (!binary) throw new Error(nats_install_hint);
  return withPortRetry(options.port, (port) => startNats(binary, port, options));
}

/** nats-server from PATH or the usual system folders, or undefined. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const folders = [...(env['PATH'] ?? '').split(delimiter).filter(Boolean), ...extra_binary_folders];
  for (const folder of folders) {
    const candidate = join(folder, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next folder.
    }
  }
  return undefined;
}

/** Whether a NATS server answers at `url` with JetStream enabled (`access`: credentials, TLS). */
export async function hasJetStream(url: string, access: ConnectionOptions = {}): Promise<boolean> {
  const { hostname, port } = new URL(url);
  if (!(await isReachable(hostname, Number(port) || 4222, probe_timeout_ms))) return false;
  let connection: NatsConnection | undefined;
  try {
    connection = await connect({ ...access, servers: url, timeout: probe_timeout_ms, reconnect: false });
    const manager = await jetstreamManager(connection, { timeout: probe_timeout_ms });
    await manager.getAccountInfo();
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function startNats(binary: string, port: number, options: EnsureNatsOptions): Promise<InfraHandle> {
  const log = options.log ?? (() => undefined);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const pid_file = join(options.dataDir, 'nats-server.pid');
  await stopLeftover({ pidFile: pid_file, binary: 'nats-server', marker: options.dataDir, what: `nats-server (data in ${options.dataDir})` }, log);
  log(`starting nats-server with JetStream on ${loopback_host}:${port}${options.auth ? ', users and permissions on' : ''}${options.tls ? ', TLS' : ''}`);
  const config_args = writeServerConfig(options);
  const child = new ManagedChild({
    name: 'nats-server',
    command: binary,
    args: ['-js', '-a', loopback_host, '-p', String(port), '-sd', options.dataDir, '-P', pid_file, ...config_args],
    // Passwords reach nats-server through its environment, never through a file or its command line.
    env: options.auth ? { ...process.env, ...natsPasswordEnv(options.auth.users) } : undefined,
    logFile: options.logFile,
    detached: options.detached,
    unref: options.unref,
    stop_signal: 'SIGTERM',
    tier: reaper_tiers.nats,
    removeDirOnOrphan: options.ephemeral ? options.dataDir : undefined,
  });
  const url = `nats://${loopback_host}:${port}`;
  await waitUntilJetStream(child, url, probeAccess(options), options.ready_timeout_ms ?? nats_ready_timeout_ms);
  return startedInfra('nats-server', url, child, options.ephemeral ? options.dataDir : undefined);
}

/** The users and TLS settings go in a config file in the data folder (no secret in it); answers nats-server's extra arguments. */
function writeServerConfig(options: EnsureNatsOptions): string[] {
  if (!options.auth && !options.tls) return [];
  const sections = [options.auth ? natsAuthorizationConfig(options.auth.prefix) : '', options.tls ? natsTlsConfig(options.tls) : ''];
  const file = join(options.dataDir, 'nats-server.conf');
  writeFileSync(file, sections.join('\n'), { mode: 0o600 });
  return ['-c', file];
}

/** nats-server's `tls` block. */
export function natsTlsConfig(tls: NatsServerTls): string {
  const lines = [`  cert_file: ${JSON.stringify(tls.cert_file)}`, `  key_file: ${JSON.stringify(tls.key_file)}`];
  return ['tls {', ...lines, '}', ''].join('\n');
}

/** How our readiness probe connects: as the operator user, trusting the server's CA. */
function probeAccess(options: EnsureNatsOptions): ConnectionOptions {
  const access: ConnectionOptions = {};
  if (options.auth) Object.assign(access, { user: options.auth.users.operator.user, pass: options.auth.users.operator.password });
  if (options.tls?.ca_file) access.tls = { caFile: options.tls.ca_file };
  return access;
}

async function waitUntilJetStream(child: ManagedChild, url: string, access: ConnectionOptions, timeout_ms: number): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (Date.now() < deadline) {
    if (!child.running) {
      throw new Error(`nats-server exited while starting (exit ${child.exitInfo?.code ?? child.exitInfo?.signal}): ${child.tail(8).join(' | ')}`);
    }
    if (await hasJetStream(url, access)) return;
    await sleep(ready_poll_interval_ms);
  }
  await child.stop();
  throw new Error(`nats-server did not accept connections within ${timeout_ms} ms: ${child.tail(8).join(' | ')}`);
}
