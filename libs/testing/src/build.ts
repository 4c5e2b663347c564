import { runCommand, sleep } from '@paynet/devstack';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

const build_timeout_ms = 300_000;
const build_lock_wait_ms = 300_000;
const build_lock_stale_ms = 600_000;
const build_lock_poll_ms = 250;
const source_files_max = 50_000;
const source_roots = ['apps', 'libs', 'tools'];
const root_inputs = ['package.json', '.swcrc', 'tsconfig.base.json'];
const skipped_folders = new Set(['node_modules', 'dist', 'tmp', 'coverage', '.data']);

let built = false;

/**
 * `npm run build` once: skipped when this process built already or
 * dist/.build-stamp is newer than every source file. A lock folder keeps
 * parallel test processes from building over each other.
 */
export async function ensureBuilt(root: string, log: (line: string) => void = () => undefined): Promise<void> {
  if (built || process.env['PAYNET_SKIP_BUILD'] === '1') return;
  await withLock(join(root, 'tmp', 'build.lock'), async () => {
    if (isBuildFresh(root)) return;
    log('testing: npm run build');
    await build(root);
  });
  built = true;
}

async function build(root: string): Promise<void> {
  const started = new Date();
  const result = await runCommand('npm', ['run', 'build'], { cwd: root, timeout_ms: build_timeout_ms });
  if (result.code !== 0) {
    throw new Error(`npm run build failed (exit ${result.code}):\n${result.output.trim().split('\n').slice(-30).join('\n')}`);
  }
  // Stamped with the start time: a file edited during the build makes the next check rebuild.
  const stamp = join(root, 'dist', '.build-stamp');
  closeSync(openSync(stamp, 'w'));
  utimesSync(stamp, started, started);
}

function isBuildFresh(root: string): boolean {
  let stamp_ms: number;
  try {
    stamp_ms = statSync(join(root, 'dist', '.build-stamp')).mtimeMs;
  } catch {
    return false;
  }
  const newest_ms = newestSourceChange(root);
  return newest_ms !== undefined && newest_ms < stamp_ms;
}

/** The newest mtime among sources and build inputs; undefined if there are too many to check. */
function newestSourceChange(root: string): number | undefined {
  let newest_ms = Math.max(...root_inputs.map((file) => mtimeOrZero(join(root, file))));
  const pending = source_roots.map((folder) => join(root, folder));
  for (let scanned = 0; pending.length > 0; scanned++) {
    if (scanned > source_files_max) return undefined;
    const folder = pending.pop() as string;
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || skipped_folders.has(entry.name)) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else newest_ms = Math.max(newest_ms, mtimeOrZero(path));
    }
  }
  return newest_ms;
}

function mtimeOrZero(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

async function withLock(lock: string, work: () => Promise<void>): Promise<void> {
  mkdirSync(join(lock, '..'), { recursive: true });
  let locked = tryLock(lock);
  for (let waited_ms = 0; !locked && waited_ms < build_lock_wait_ms; waited_ms += build_lock_poll_ms) {
    await sleep(build_lock_poll_ms);
    locked = tryLock(lock);
  }
  if (!locked) throw new Error(`waited ${build_lock_wait_ms} ms for ${lock}: remove it if no build is running`);
  try {
    await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function tryLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    return true;
  } catch {
    // A lock left by a process that died mid-build would otherwise block every run.
    if (Date.now() - mtimeOrZero(lock) > build_lock_stale_ms) rmSync(lock, { recursive: true, force: true });
    return false;
  }
}
