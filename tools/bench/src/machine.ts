import { runCommand, withClient } from '@paynet/devstack';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

const git_timeout_ms = 5_000;
const statement_timeout_ms = 120_000;

export interface PostgresFacts {
  /** e.g. "18.1" */
  version: string;
  major: number;
  /** The settings that move these figures most, in one line. */
  settings: string;
}

export function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((candidate) => candidate.startsWith('model name'));
    const model = line?.split(':').slice(1).join(':').trim();
    if (model) return model;
  } catch {
    // Not Linux: Node's own idea of it below.
  }
  return cpus()[0]?.model ?? 'unknown';
}

/** What `nproc` prints: the processors this process may run on. */
export function processorCount(): number {
  return availableParallelism();
}

export function memoryGib(): number {
  return totalmem() / 1024 ** 3;
}

export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
}

/** The checked-out commit, when the workspace is a git repository (read only). */
export async function gitCommit(root: string): Promise<string | undefined> {
  const result = await runCommand('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, timeout_ms: git_timeout_ms });
  const commit = result.output.trim();
  return result.code === 0 && /^[0-9a-f]{4,40}$/.test(commit) ? commit : undefined;
}

export async function describePostgres(url: string): Promise<PostgresFacts> {
  const row = await withClient(url, async (client) => {
    const result = await client.query<Record<string, string>>(
      `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS version_num,
              current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit,
              current_setting('shared_buffers') AS shared_buffers, current_setting('max_connections') AS max_connections`,
    );
    return result.rows[0];
  });
  if (!row) throw new Error('PostgreSQL did not say its version');
  const major = Math.floor(Number(row['version_num']) / 10_000);
  if (!Number.isSafeInteger(major) || major < 9) throw new Error(`unexpected server_version_num ${row['version_num']}`);
  const settings = `fsync ${row['fsync']}, synchronous_commit ${row['synchronous_commit']}, shared_buffers ${row['shared_buffers']}, max_connections ${row['max_connections']}`;
  return { version: String(row['version']).split(' ')[0] ?? 'unknown', major, settings };
}

/**
 * Writes dirty buffers out now, so the checkpoint an earlier phase made
 * necessary does not land inside the next measured window. Best effort:
 * a DATABASE_URL user may not be allowed to.
 */
export async function checkpoint(url: string): Promise<boolean> {
  try {
    await withClient(url, async (client) => {
      await client.query(`SET statement_timeout = ${statement_timeout_ms}`);
      await client.query('CHECKPOINT');
    });
    return true;
  } catch {
    return false;
  }
}

/** CPU time a process has used so far (user + system), from /proc; undefined where there is no /proc. */
export function processCpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  const ticks = Number(fields[utime_index]) + Number(fields[stime_index]);
  return Number.isFinite(ticks) ? ticks / clock_ticks_per_s : undefined;
}

/**
 * CPU time of a process and all its children so far: PostgreSQL's
 * postmaster and its backends. Children that ended are counted through
 * the parent's cutime/cstime, living ones one by one.
 */
export function processTreeCpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  let ticks = [utime_index, stime_index, cutime_index, cstime_index].reduce((sum, index) => sum + Number(fields[index]), 0);
  for (const entry of readdirSync('/proc').slice(0, proc_entries_max)) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const child = statFields(Number(entry));
    if (child && Number(child[ppid_index]) === pid) ticks += Number(child[utime_index]) + Number(child[stime_index]);
  }
  return Number.isFinite(ticks) ? ticks / clock_ticks_per_s : undefined;
}

/** The fields of /proc/<pid>/stat from the third (state) on: the command name before may hold spaces. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

// proc(5) field numbers minus 3: ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
const ppid_index = 1;
const utime_index = 11;
const stime_index = 12;
const cutime_index = 13;
const cstime_index = 14;
// USER_HZ: 100 on every Linux architecture Node runs on.
const clock_ticks_per_s = 100;
const proc_entries_max = 100_000;
