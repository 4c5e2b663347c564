import { isProcessAlive } from '@paynet/devstack';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/**
 * One `npm start` per folder. A second one would stop the first one's
 * services as leftovers and fight over the same data folders and pid files,
 * so it is refused while the first one lives. The lock is a file holding
 * the holder's pid and its start time (so that a pid reused by another
 * process after a crash or a reboot does not count as the holder), created
 * with O_EXCL so that two starts at once cannot both win. A lock whose
 * holder is gone (the run was SIGKILLed) is stale and taken over.
 */
export class StartLockHeld extends Error {}

export interface StartLock {
  /** Removes the lock if it is still ours; safe to call more than once. */
  release(): void;
}

interface Holder {
  pid: number;
  /** Clock ticks since boot when the process started (Linux); undefined elsewhere. */
  started: string | undefined;
}

// A stale lock removed, then another start's fresh lock seen: at most a few rounds.
const lock_attempts_max = 3;

export function acquireStartLock(file: string, log: (line: string) => void): StartLock {
  const ours: Holder = { pid: process.pid, started: processStartTime(process.pid) };
  for (let attempt = 1; attempt <= lock_attempts_max; attempt++) {
    if (tryCreate(file, ours)) return { release: () => releaseIfOurs(file, ours) };
    const holder = readHolder(file);
    if (holder && isHolderAlive(holder)) {
      throw new StartLockHeld(
        `another \`npm start\` (pid ${holder.pid}) is running in this folder: stop it first (Ctrl-C in its terminal, or \`kill ${holder.pid}\`); ` +
          'to run a second stack at once, use another clone of the repository',
      );
    }
    log(`removing a stale lock (${file}) left by an earlier run that was killed${holder ? ` (pid ${holder.pid})` : ''}`);
    removeIfPresent(file);
  }
  throw new StartLockHeld(`could not take ${file}: other \`npm start\` runs keep taking it`);
}

function tryCreate(file: string, holder: Holder): boolean {
  try {
    writeFileSync(file, `${holder.pid}\n${holder.started ?? ''}\n`, { flag: 'wx', mode: 0o644 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function readHolder(file: string): Holder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // removed meanwhile: the next attempt creates it
  }
  const [pid_text = '', started = ''] = text.split('\n');
  const pid = Number.parseInt(pid_text, 10);
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  return { pid, started: started || undefined };
}

function isHolderAlive(holder: Holder): boolean {
  if (!isProcessAlive(holder.pid)) return false;
  const started = processStartTime(holder.pid);
  // Where start times cannot be read we trust the pid alone.
  return holder.started === undefined || started === undefined || started === holder.started;
}

function releaseIfOurs(file: string, ours: Holder): void {
  const holder = readHolder(file);
  if (holder?.pid === ours.pid && holder.started === ours.started) removeIfPresent(file);
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** Field 22 of /proc/<pid>/stat (Linux), read after the command name, which may hold spaces and parentheses. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state).
    return fields[22 - 3];
  } catch {
    return undefined;
  }
}
