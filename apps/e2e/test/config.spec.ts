import { dropDatabaseRoles, serviceEntry, serviceNames } from '@paynet/devstack';
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

  it('`accounts migrate` with DATABASE_OWNER_URL migrates as the owner and grants DATABASE_URL\'s role, created for it, DML alone', async () => {
    const database = await createTestDatabase();
    const role = `${database.name}_accounts`;
    const runtime = new URL(database.url);
    runtime.username = role;
    runtime.password = 'not-sent-in-clear';
    try {
      const { natsUrl } = await testInfra();
      const result = spawnSync(process.execPath, [serviceEntry(workspaceRoot(), 'accounts'), 'migrate'], {
        env: { PATH: process.env['PATH'] ?? '', ...complete_env, DATABASE_URL: runtime.toString(), DATABASE_OWNER_URL: database.url, NATS_URL: natsUrl, LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(0);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const privileges = await client.query<{ table: string; select: boolean; insert: boolean; update: boolean; delete: boolean; truncate: boolean; owner: string }>(
          `SELECT c.relname AS table, pg_get_userbyid(c.relowner) AS owner,
                  has_table_privilege($1, c.oid, 'SELECT') AS select, has_table_privilege($1, c.oid, 'INSERT') AS insert,
                  has_table_privilege($1, c.oid, 'UPDATE') AS update, has_table_privilege($1, c.oid, 'DELETE') AS delete,
                  has_table_privilege($1, c.oid, 'TRUNCATE') AS truncate
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'accounts' AND c.relkind = 'r' ORDER BY c.relname`,
          [role],
        );
        const by_table = Object.fromEntries(privileges.rows.map(({ table, ...rest }) => [table, rest]));
        const owner = new URL(database.url).username;
        for (const row of privileges.rows) expect([row.owner, row.select, row.truncate]).toEqual([owner, true, false]);
        for (const table of ['journal_entries', 'postings', 'refused_commands']) expect(by_table[table]).toMatchObject({ insert: true, update: false, delete: false });
        expect(by_table['migrations']).toMatchObject({ insert: false, update: false, delete: false });
        expect(by_table['balances']).toMatchObject({ insert: true, update: true, delete: true });
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
      await dropDatabaseRoles(database.adminUrl, { accounts: { user: role, password: '' } });
    }
  });
});
