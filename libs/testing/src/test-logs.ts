import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Run folders kept under tmp/test-logs, newest first by name (their names start with the time). */
export const log_runs_kept = 30;
/** Never removed while this young: a test running in parallel (another Nx project) may still be writing to it. */
export const log_run_in_use_ms = 30 * 60_000;

const run_name = /^\d{4}-\d{2}-\d{2}T[\d-]+Z-/;

/**
 * `<parent>/<time>-<label>`, for one test stack's service logs; prunes the
 * oldest run folders beyond `log_runs_kept`, sparing any touched in the last
 * `log_run_in_use_ms` (and anything not named like a run).
 */
export function makeRunLogDir(parent: string, label: string, now: Date = new Date()): string {
  const logDir = join(parent, `${now.toISOString().replace(/[:.]/g, '-')}-${label}`);
  mkdirSync(logDir, { recursive: true });
  const runs = readdirSync(parent).filter((name) => run_name.test(name)).sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - log_runs_kept))) {
    const path = join(parent, old);
    if (now.getTime() - modifiedMs(path) < log_run_in_use_ms) continue;
    rmSync(path, { recursive: true, force: true });
  }
  return logDir;
}

function modifiedMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
