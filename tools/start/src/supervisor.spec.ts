import { findFreePort, startService, waitReady } from '@paynet/devstack';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RestartPolicy } from './restart-policy.js';
import { Supervisor } from './supervisor.js';

// A stand-in for a service: /health/ready and its pid on ACCOUNTS_PORT; it crashes at start while CRASH_FILE exists.
const fake_service = `
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
if (existsSync(process.env.CRASH_FILE)) { console.error('config: the database is gone'); process.exit(3); }
console.log('listening');
createServer((request, response) => {
  response.end(request.url === '/health/ready' ? 'ok' : String(process.pid));
}).listen(Number(process.env.ACCOUNTS_PORT), '127.0.0.1');
`;

// The real schedule's shape, shortened so that a test sees several restarts in a moment.
const quick_policy: RestartPolicy = { delay_initial_ms: 100, delay_max_ms: 400, crashes_max: 3, crash_window_ms: 60_000, ready_timeout_ms: 20_000 };
const ready_timeout_ms = 20_000;
const test_timeout_ms = 60_000;

describe('npm start supervisor', () => {
  let folder: string;
  let entry: string;
  let crash_file: string;
  let supervisor: Supervisor;
  let lines: string[];
  let exited: Promise<number>;

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'start-supervisor-'));
    entry = join(folder, 'main.mjs');
    crash_file = join(folder, 'crash');
    writeFileSync(entry, fake_service);
    lines = [];
    let exit: (code: number) => void = () => undefined;
    exited = new Promise((resolve) => (exit = resolve));
    supervisor = new Supervisor((line) => lines.push(line), { policy: quick_policy, exit });
  });

  afterEach(async () => {
    void supervisor.shutdown(0, 'test over');
    await exited;
    rmSync(folder, { recursive: true, force: true });
  });

  // As npm start does: output to a log file, whose last lines are shown on a crash.
  const startAccountsOn = (port: number) => startService({ name: 'accounts', entry, env: { CRASH_FILE: crash_file }, port, unref: true, logFile: join(folder, 'accounts.log') });

  async function startAccounts(): Promise<string> {
    const port = await findFreePort();
    const first = supervisor.addService('accounts', () => startAccountsOn(port));
    await first.waitReady(ready_timeout_ms);
    supervisor.markReady('accounts');
    return first.url;
  }

  const pidAt = async (url: string) => Number(await (await fetch(`${url}/pid`)).text());

  it('restarts a service killed with SIGKILL: it answers /health/ready again, and the terminal says so', async () => {
    const url = await startAccounts();
    const first_pid = await pidAt(url);
    process.kill(first_pid, 'SIGKILL');
    await waitFor(() => lines.some((line) => line.startsWith('accounts is back on ')));
    await waitReady(`${url}/health/ready`, ready_timeout_ms);
    const second_pid = await pidAt(url);
    expect(second_pid).not.toBe(first_pid);
    expect(supervisor.current('accounts')?.process.pid).toBe(second_pid);
    expect(lines).toContain('accounts exited unexpectedly (SIGKILL): restarting it in 0.1 s (crash 1 of 3 allowed within 60 s)');
    expect(lines).toContain(`accounts is back on ${url} (restart 1, pid ${second_pid})`);
    expect(supervisor.isStopping).toBe(false);
  }, test_timeout_ms);

  it('restarts it again after a second crash, after a longer delay', async () => {
    const url = await startAccounts();
    for (const expected_delay of ['0.1', '0.2']) {
      const before = lines.length;
      process.kill(await pidAt(url), 'SIGKILL');
      await waitFor(() => lines.slice(before).some((line) => line.startsWith('accounts is back on ')));
      expect(lines.slice(before)[0]).toMatch(new RegExp(`^accounts exited unexpectedly \\(SIGKILL\\): restarting it in ${expected_delay} s`));
    }
    expect(lines.filter((line) => line.includes('restarting it in'))).toEqual([
      'accounts exited unexpectedly (SIGKILL): restarting it in 0.1 s (crash 1 of 3 allowed within 60 s)',
      'accounts exited unexpectedly (SIGKILL): restarting it in 0.2 s (crash 2 of 3 allowed within 60 s)',
    ]);
  }, test_timeout_ms);

  it('gives up on a service that crashes at every start: says why, with its last lines, and exits non-zero', async () => {
    await startAccounts();
    writeFileSync(crash_file, 'from now on');
    process.kill(supervisor.current('accounts')?.process.pid ?? 0, 'SIGKILL');
    expect(await exited).toBe(1);
    expect(lines.filter((line) => line.startsWith('accounts exited unexpectedly'))).toEqual([
      'accounts exited unexpectedly (SIGKILL): restarting it in 0.1 s (crash 1 of 3 allowed within 60 s)',
      'accounts exited unexpectedly (code 3): restarting it in 0.2 s (crash 2 of 3 allowed within 60 s)',
      'accounts exited unexpectedly (code 3): it crashed 3 times within 60 s, so it is not restarted again',
    ]);
    expect(lines).toContain('  | config: the database is gone');
    expect(lines).toContain('stopping (accounts keeps crashing) ...');
    expect(supervisor.current('accounts')?.running).toBe(false);
  }, test_timeout_ms);

  it('treats a service that dies before it was ever ready as a failed start, not a crash to restart', async () => {
    writeFileSync(crash_file, 'from the start');
    supervisor.addService('accounts', () => startAccountsOn(1));
    expect(await exited).toBe(1);
    expect(lines.slice(0, 3)).toEqual(['accounts exited unexpectedly (code 3) before it was ready', `last lines of ${join(folder, 'accounts.log')}:`, '  | config: the database is gone']);
    expect(lines.some((line) => line.includes('restarting'))).toBe(false);
  }, test_timeout_ms);
});

/** Polls `condition` (a bounded number of times) until it holds. */
async function waitFor(condition: () => boolean): Promise<void> {
  const poll_interval_ms = 50;
  for (let waited_ms = 0; waited_ms < ready_timeout_ms; waited_ms += poll_interval_ms) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, poll_interval_ms));
  }
  throw new Error('condition not met in time');
}
