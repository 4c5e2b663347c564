import { serviceEntry, serviceNames } from '@paynet/devstack';
import { ensureBuilt, workspaceRoot } from '@paynet/testing';
import { spawnSync } from 'node:child_process';

const complete_env = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
  NATS_URL: 'nats://127.0.0.1:1',
  ADMIN_TOKEN: 'x'.repeat(32),
  SECRETS_KEY: Buffer.alloc(32).toString('base64'),
};

/** Each service validates its settings at boot and stops with one line naming the bad one. */
describe('configuration at boot', () => {
  beforeAll(async () => {
    await ensureBuilt(workspaceRoot());
  });

  function boot(service: string, env: Record<string, string | undefined>) {
    const clean = Object.fromEntries(Object.entries({ PATH: process.env['PATH'], ...env }).filter(([, value]) => value !== undefined)) as Record<string, string>;
    return spawnSync(process.execPath, [serviceEntry(workspaceRoot(), service)], { env: clean, encoding: 'utf8', timeout: 20_000 });
  }

  it.each(serviceNames)('%s refuses to start without DATABASE_URL, naming it in one line', (service) => {
    const result = boot(service, { ...complete_env, DATABASE_URL: undefined });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual(['config: DATABASE_URL is required']);
  });

  it('names a bad value and what is wrong with it', () => {
    expect(boot('payments', { ...complete_env, PAYMENTS_PORT: 'abc' }).stderr.trim()).toBe('config: PAYMENTS_PORT must be a port number, 1 to 65535');
    expect(boot('accounts', { ...complete_env, SECRETS_KEY: 'short' }).stderr.trim()).toBe('config: SECRETS_KEY must be 32 bytes, base64 encoded');
    expect(boot('merchants', { ...complete_env, ADMIN_TOKEN: 'short' }).stderr.trim()).toBe('config: ADMIN_TOKEN must be at least 16 characters');
  });
});
