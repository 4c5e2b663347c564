import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireStartLock, processStartTime, StartLockHeld } from './start-lock.js';

describe('one npm start per folder', () => {
  let folder: string;
  let file: string;
  let lines: string[];
  const log = (line: string) => lines.push(line);
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'start-lock-'));
    file = join(folder, 'start.lock');
    lines = [];
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  /** Another `npm start`: a live process whose pid and start time are in the lock. */
  async function otherRun(): Promise<{ pid: number; end: () => Promise<void> }> {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    const pid = child.pid ?? 0;
    writeFileSync(file, `${pid}\n${processStartTime(pid) ?? ''}\n`);
    const end = async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    };
    return { pid, end };
  }

  it('refuses a second start while the first runs, naming its pid and how to stop it', async () => {
    const first = await otherRun();
    try {
      expect(() => acquireStartLock(file, log)).toThrow(StartLockHeld);
      expect(() => acquireStartLock(file, log)).toThrow(`another \`npm start\` (pid ${first.pid}) is running in this folder: stop it first`);
      expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(first.pid));
    } finally {
      await first.end();
    }
  });

  it('takes over the lock of a run that was killed outright', async () => {
    const killed = await otherRun();
    await killed.end();
    const lock = acquireStartLock(file, log);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(process.pid));
    expect(lines).toEqual([`removing a stale lock (${file}) left by an earlier run that was killed (pid ${killed.pid})`]);
    lock.release();
  });

  it('takes over a lock whose pid now belongs to another process (pid reused after a reboot)', () => {
    writeFileSync(file, `${process.pid}\n1\n`); // our pid, but a start time that is not ours
    const lock = acquireStartLock(file, log);
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n${processStartTime(process.pid)}\n`);
    lock.release();
  });

  it('takes over an unreadable lock file', () => {
    writeFileSync(file, 'garbage');
    acquireStartLock(file, log).release();
    expect(lines).toHaveLength(1);
  });

  it('is free again once released, and release leaves a lock taken since by another run alone', async () => {
    const lock = acquireStartLock(file, log);
    expect(() => acquireStartLock(file, log)).toThrow(StartLockHeld);
    lock.release();
    expect(existsSync(file)).toBe(false);
    const again = acquireStartLock(file, log);
    rmSync(file);
    const other = await otherRun();
    try {
      again.release();
      expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(String(other.pid));
    } finally {
      await other.end();
    }
  });

  it('reads the start time of a live process, and none for a pid that is not running', () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(2 ** 22 + 1)).toBeUndefined();
  });

  describe('the check `npm start` runs before it builds (tools/start/busy-check.mjs)', () => {
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'busy-check.mjs');
    const check = () => spawnSync(process.execPath, [script, file], { encoding: 'utf8' });

    it('refuses while another run holds the lock, so dist/ is not rebuilt under it', async () => {
      const other = await otherRun();
      try {
        const result = check();
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`another \`npm start\` (pid ${other.pid}) is running in this folder`);
      } finally {
        await other.end();
      }
    });

    it('lets a start go on when there is no lock, or its holder is gone', async () => {
      expect(check().status).toBe(0);
      const other = await otherRun();
      await other.end();
      expect(existsSync(file)).toBe(true);
      expect(check()).toMatchObject({ status: 0, stderr: '' });
    });
  });
});
