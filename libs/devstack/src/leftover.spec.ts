import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive, stopLeftover } from './leftover.js';

describe('stopLeftover', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'devstack-leftover-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('stops a process from an earlier run when its command line names the binary and the marker', async () => {
    const leftover = spawn('sleep', ['301'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => leftover.once('exit', resolve));
    const pidFile = join(folder, 'sleep.pid');
    writeFileSync(pidFile, `${leftover.pid}\n`);
    const lines: string[] = [];
    await stopLeftover({ pidFile, binary: 'sleep', marker: '301', what: 'the sleeper' }, (line) => lines.push(line));
    await exited;
    expect(lines).toEqual([`stopping the sleeper left running by an earlier run (pid ${leftover.pid})`]);
  });

  it('leaves alone a live process that is not ours, and ignores a missing or stale pid file', async () => {
    const stranger = spawn('sleep', ['302'], { stdio: 'ignore' });
    const pidFile = join(folder, 'other.pid');
    writeFileSync(pidFile, `${stranger.pid}\n`);
    await stopLeftover({ pidFile, binary: 'sleep', marker: '/some/data/dir', what: 'x' }, () => undefined);
    expect(isProcessAlive(stranger.pid ?? 0)).toBe(true);
    stranger.kill();
    await stopLeftover({ pidFile: join(folder, 'missing.pid'), binary: 'sleep', marker: 'x', what: 'x' }, () => undefined);
    writeFileSync(pidFile, 'not a pid\n');
    await stopLeftover({ pidFile, binary: 'sleep', marker: 'x', what: 'x' }, () => undefined);
  });
});
