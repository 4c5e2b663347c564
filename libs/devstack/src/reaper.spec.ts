import { spawn } from 'node:child_process';
import { sleep } from './sleep.js';
import { reaper_script } from './reaper.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the reaper', () => {
  it('signals the processes it watches once its parent is gone (its stdin closes), in tier order', async () => {
    const service = spawn('sleep', ['300'], { stdio: 'ignore' });
    const database = spawn('sleep', ['300'], { stdio: 'ignore' });
    const finished: string[] = [];
    service.on('exit', () => finished.push('service'));
    database.on('exit', () => finished.push('database'));
    const reaper = spawn(process.execPath, ['-e', reaper_script], { stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.stdin?.write(`${JSON.stringify({ op: 'watch', pid: database.pid, signal: 'SIGTERM', tier: 2 })}\n`);
    reaper.stdin?.write(`${JSON.stringify({ op: 'watch', pid: service.pid, signal: 'SIGTERM', tier: 0 })}\n`);
    await sleep(200);
    reaper.stdin?.end();
    await new Promise((resolve) => reaper.once('exit', resolve));
    await sleep(100);
    expect(finished).toEqual(['service', 'database']);
    expect(isAlive(service.pid ?? 0) || isAlive(database.pid ?? 0)).toBe(false);
  }, 20_000);

  it('leaves alone what it was told to stop watching', async () => {
    const kept = spawn('sleep', ['300'], { stdio: 'ignore' });
    const reaper = spawn(process.execPath, ['-e', reaper_script], { stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.stdin?.write(`${JSON.stringify({ op: 'watch', pid: kept.pid, signal: 'SIGTERM', tier: 0 })}\n`);
    reaper.stdin?.write(`${JSON.stringify({ op: 'unwatch', pid: kept.pid })}\n`);
    await sleep(200);
    reaper.stdin?.end();
    await new Promise((resolve) => reaper.once('exit', resolve));
    expect(isAlive(kept.pid ?? 0)).toBe(true);
    kept.kill();
  }, 20_000);
});
