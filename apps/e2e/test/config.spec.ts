import { serviceEntry, serviceNames } from '@paynet/devstack';
import { createTestDatabase, ensureBuilt, testInfra, workspaceRoot } from '@paynet/testing';
import pg from 'pg';
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

describe('migrations', () => {
  it.each(serviceNames)('`%s migrate` applies the migrations to its own schema and exits', async (service) => {
    const database = await createTestDatabase();
    try {
      const { natsUrl } = await testInfra();
      const result = spawnSync(process.execPath, [serviceEntry(workspaceRoot(), service), 'migrate'], {
        env: { PATH: process.env['PATH'] ?? '', ...complete_env, DATABASE_URL: database.url, NATS_URL: natsUrl, LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(0);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const tables = await client.query('SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ($1, $2)', ['pg_catalog', 'information_schema']);
      await client.end();
      const schemas = new Set(tables.rows.map((row: { table_schema: string }) => row.table_schema));
      expect([...schemas]).toEqual([service]);
      expect(tables.rows.map((row: { table_name: string }) => row.table_name)).toContain('migrations');
    } finally {
      await database.drop();
    }
  });
});
