import { readFileSync } from 'node:fs';
import { sleep } from './sleep.js';

const leftover_stop_timeout_ms = 20_000;
const leftover_poll_interval_ms = 100;

export interface Leftover {
  /** The pid file the earlier run wrote. */
  pidFile: string;
  /** Both must appear in the process's command line for it to count as ours. */
  binary: string;
  marker: string;
  /** For the progress line: "PostgreSQL (data in .data/postgres)". */
  what: string;
}

/**
 * A process we started in an earlier run and never stopped (that run was
 * killed outright) still holds its data folder or port. If the pid in its
 * pid file is alive and its command line names both `binary` and `marker`
 * (its data folder or entry point), it is ours: stop it (SIGINT, then
 * SIGKILL after a bound) so this run can start cleanly. Anything else is
 * left alone.
 */
export async function stopLeftover(leftover: Leftover, log: (line: string) => void): Promise<void> {
  const pid = readPid(leftover.pidFile);
  if (pid === undefined || !isProcessAlive(pid)) return;
  const command = readCommandLine(pid);
  if (!command || !command.includes(leftover.binary) || !command.includes(leftover.marker)) return;
  log(`stopping ${leftover.what} left running by an earlier run (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  for (let waited_ms = 0; waited_ms < leftover_stop_timeout_ms; waited_ms += leftover_poll_interval_ms) {
    if (!isProcessAlive(pid)) return;
    await sleep(leftover_poll_interval_ms);
  }
  process.kill(pid, 'SIGKILL');
  await sleep(500);
}

function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux only; elsewhere we cannot tell whose process it is, so we leave it. */
function readCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}
