import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort } from './ports.js';
import { service_node_flags, startService, waitReady } from './service.js';
import { findWorkspaceRoot } from './workspace.js';
import { sleep } from './sleep.js';

// A stand-in for a service: serves /health/ready on ACCOUNTS_PORT, echoes one variable.
const fake_service = `
import { createServer } from 'node:http';
const port = Number(process.env.ACCOUNTS_PORT);
console.log('starting on ' + port);
process.on('SIGTERM', () => { console.log('stopping'); server.close(() => process.exit(0)); });
const server = createServer((request, response) => {
  if (request.url === '/health/ready') { response.end('ok'); return; }
  if (request.url === '/flags') { response.end(JSON.stringify(process.execArgv)); return; }
  response.end(JSON.stringify({ prefix: process.env.NATS_PREFIX }));
}).listen(port, '127.0.0.1');
`;

const wait_longer_than_the_test_ms = 600_000;

describe('startService', () => {
  let folder: string;
  let entry: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'devstack-service-'));
    entry = join(folder, 'main.mjs');
    writeFileSync(entry, fake_service);
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('runs node with the service flags (the image too), and source maps unless a benchmark turns them off', async () => {
    const flags = async (sourceMaps?: boolean) => {
      const service = startService({ name: 'accounts', entry, env: {}, port: await findFreePort(), unref: true, sourceMaps });
      try {
        await service.waitReady(10_000);
        return (await (await fetch(`${service.url}/flags`)).json()) as string[];
      } finally {
        await service.stop();
      }
    };
    expect(service_node_flags).toEqual(['--max-semi-space-size=2', '--max-old-space-size=512']);
    expect(await flags()).toEqual(['--enable-source-maps', ...service_node_flags]);
    expect(await flags(false)).toEqual([...service_node_flags]);
    const dockerfile = readFileSync(join(findWorkspaceRoot(dirname(fileURLToPath(import.meta.url))), 'docker', 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`NODE_OPTIONS="${service_node_flags.join(' ')}"`);
  }, 30_000);

  it('writes a CPU profile of each service into PAYNET_CPU_PROF_DIR when it stops (for benchmarks)', async () => {
    const profiles = join(folder, 'profiles');
    process.env['PAYNET_CPU_PROF_DIR'] = profiles;
    let service;
    try {
      service = startService({ name: 'accounts', entry, env: {}, port: await findFreePort(), unref: true });
    } finally {
      delete process.env['PAYNET_CPU_PROF_DIR'];
    }
    await service.waitReady(10_000);
    await service.stop();
    const written = readdirSync(profiles).filter((name) => name.endsWith('.cpuprofile'));
    expect(written).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(profiles, written[0] as string), 'utf8'))).toHaveProperty('samples');
  }, 60_000);

  it('starts with its port and env, becomes ready, logs to a file, and stops on SIGTERM', async () => {
    const port = await findFreePort();
    const logFile = join(folder, 'accounts.log');
    const service = startService({ name: 'accounts', entry, env: { NATS_PREFIX: 't_x' }, port, logFile, unref: true });
    await service.waitReady(10_000);
    const body = await (await fetch(`${service.url}/anything`)).json();
    expect(body).toEqual({ prefix: 't_x' });
    expect(await service.stop()).toEqual({ code: 0, signal: null });
    expect(service.tail()).toEqual([`starting on ${port}`, 'stopping']);
  }, 15_000);

  it('passes output lines to a callback when there is no log file, and kill() is a crash', async () => {
    const lines: string[] = [];
    const service = startService({ name: 'accounts', entry, env: {}, port: await findFreePort(), log: (line) => lines.push(line), unref: true });
    await service.waitReady(10_000);
    expect(await service.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(lines[0]).toMatch(/^starting on \d+$/);
  }, 15_000);

  it('pause() freezes it (requests wait unanswered), resume() lets them through, and a paused one still stops gracefully', async () => {
    const service = startService({ name: 'accounts', entry, env: { NATS_PREFIX: 't_p' }, port: await findFreePort(), unref: true });
    await service.waitReady(10_000);
    service.pause();
    const asked = fetch(`${service.url}/anything`, { signal: AbortSignal.timeout(5_000) }).then((response) => response.json());
    expect(await Promise.race([asked, sleep(500).then(() => 'no answer yet')])).toBe('no answer yet');
    service.resume();
    expect(await asked).toEqual({ prefix: 't_p' });
    service.pause();
    expect(await service.stop()).toEqual({ code: 0, signal: null });
  }, 15_000);

  it('stops waiting as soon as the process dies, saying so', async () => {
    const crashing = join(folder, 'crash.mjs');
    writeFileSync(crashing, "console.error('config: DATABASE_URL is required'); process.exit(1);");
    const service = startService({ name: 'accounts', entry: crashing, env: {}, port: await findFreePort(), unref: true });
    // A wait far longer than the test's own timeout: only the process's death can end it in time,
    // and the message says that is what ended it (a timeout would say "not ready after").
    await expect(service.waitReady(wait_longer_than_the_test_ms)).rejects.toThrow(/^accounts exited \(code 1\) before /);
    expect(service.tail()).toEqual(['config: DATABASE_URL is required']);
  }, 15_000);

  it('says clearly when the entry point has not been built', () => {
    expect(() => startService({ name: 'push', entry: join(folder, 'missing.js'), env: {}, port: 1 })).toThrow(/npm run build/);
  });

  it('gives up on a URL that never answers after the bound', async () => {
    const port = await findFreePort();
    await expect(waitReady(`http://127.0.0.1:${port}/health/ready`, 300, { interval_ms: 100 })).rejects.toThrow(/not ready after 300 ms/);
  });
});
