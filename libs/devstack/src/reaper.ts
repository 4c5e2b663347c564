import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * The safety net for everything we start: a small watcher process that
 * signals our children when we are gone, however we went (crash, SIGKILL, a
 * Jest run ending without calling stop()). Jest gives test files a copy of
 * `process` whose 'exit' event never fires, so an exit hook cannot do this.
 *
 * We tell it which pids to watch on its stdin; when its stdin closes (we have
 * exited), it signals them tier by tier (services, then NATS, then
 * PostgreSQL), waits a bounded time, SIGKILLs what is left, removes the
 * folders it was asked to remove, and exits. It lives only while something
 * is watched.
 */
export const reaper_tiers = { service: 0, nats: 1, postgres: 2 } as const;
export type ReaperTier = (typeof reaper_tiers)[keyof typeof reaper_tiers];

export interface ReaperWatch {
  pid: number;
  signal: NodeJS.Signals;
  tier: ReaperTier;
  /** Removed once the process is gone (a throwaway data folder). */
  removeDir?: string;
}

const reaper_grace_ms = 15_000;

// Runs in its own `node -e`; kept dependency-free and short on purpose.
export const reaper_script = `
process.title = 'paynet-reaper';
const grace_ms = ${reaper_grace_ms};
const watched = new Map();
let pending = '';
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  for (let index = pending.indexOf('\\n'); index >= 0; index = pending.indexOf('\\n')) {
    const line = pending.slice(0, index);
    pending = pending.slice(index + 1);
    try {
      const message = JSON.parse(line);
      if (message.op === 'watch') watched.set(message.pid, message);
      if (message.op === 'unwatch') watched.delete(message.pid);
    } catch {}
  }
});
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    const stat = require('fs').readFileSync('/proc/' + pid + '/stat', 'utf8');
    return !/^\\d+ \\(.*\\) Z/.test(stat);
  } catch (error) { return error.code === 'EPERM'; }
};
const signal = (pid, name) => { try { process.kill(pid, name); } catch {} };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function reap() {
  const tiers = [...new Set([...watched.values()].map((w) => w.tier))].sort((a, b) => a - b);
  for (const tier of tiers) {
    const group = [...watched.values()].filter((w) => w.tier === tier);
    for (const w of group) signal(w.pid, w.signal);
    for (let waited = 0; waited < grace_ms && group.some((w) => alive(w.pid)); waited += 100) await sleep(100);
    for (const w of group) if (alive(w.pid)) signal(w.pid, 'SIGKILL');
    await sleep(200);
    for (const w of group) if (w.removeDir) try { require('fs').rmSync(w.removeDir, { recursive: true, force: true }); } catch {}
  }
  process.exit(0);
}
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

class Reaper {
  private child: ChildProcess | undefined;
  private readonly watches = new Map<number, ReaperWatch>();

  watch(watch: ReaperWatch): void {
    this.watches.set(watch.pid, watch);
    if (this.child) this.write({ op: 'watch', ...watch });
    else this.spawn(); // a new reaper is told every current watch
  }

  unwatch(pid: number): void {
    if (!this.watches.delete(pid)) return;
    this.write({ op: 'unwatch', pid });
    // Nothing left to guard: closing its stdin with nothing watched ends it.
    if (this.watches.size === 0) this.close();
  }

  private write(message: object): void {
    this.child?.stdin?.write(`${JSON.stringify(message)}\n`);
  }

  private spawn(): void {
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // Jest's flags are not for this script
    const child = spawn(process.execPath, ['-e', reaper_script], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true, // out of the terminal's process group: Ctrl-C must not end it first
      env,
    });
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    // It must never keep us alive: its whole job starts when we are gone.
    child.unref();
    (child.stdin as Socket | null)?.unref();
    this.child = child;
    for (const watch of this.watches.values()) this.write({ op: 'watch', ...watch });
  }

  private close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }
}

/** One per module instance (Jest: per test file); each ends when its watch list empties. */
export const reaper = new Reaper();
