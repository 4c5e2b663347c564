import { adminFetch, type InProcessStack, startInProcess } from '@paynet/testing';
import { scramVerifier } from '@paynet/platform';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet } from './support.js';

const accounts = { service: 'accounts' as const, schema: accounts_config_schema, module: AppModule.forConfig };

/** The PostgreSQL error a statement is refused with (code and message), or 'applied'. */
async function refusal(client: pg.Client, sql: string): Promise<string> {
  try {
    await client.query(sql);
    return 'applied';
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return `${code}: ${message}`;
  }
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('SET search_path TO accounts');
  return client;
}

/**
 * accounts runs as a role with DML on its own schema only; the owner of the
 * tables migrates (issue 15.5, docs/SECURITY.md "Database roles"). What the
 * service's own connection (or an injection into it) could try is refused by
 * PostgreSQL's privileges, before any trigger.
 */
describe("the service's database role cannot undo the journal's guards", () => {
  let stack: InProcessStack;
  let runtime: pg.Client;
  let owner: pg.Client;

  beforeAll(async () => {
    stack = await startInProcess([accounts]);
    [runtime, owner] = await Promise.all([connect(stack.serviceDatabaseUrl('accounts')), connect(stack.databaseUrl)]);
    await fundedWallet(stack, 100); // journal rows to protect
  });

  afterAll(async () => {
    await Promise.all([runtime?.end(), owner?.end()]);
    await stack?.stop();
  });

  it('is a role of its own, not the owner and no superuser', async () => {
    const { rows } = await runtime.query<{ name: string; superuser: boolean; owner: string }>(
      `SELECT current_user AS name, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
              (SELECT tableowner FROM pg_tables WHERE schemaname = 'accounts' AND tablename = 'journal_entries') AS owner`,
    );
    expect(rows[0]?.name).toMatch(/_accounts$/);
    expect(rows[0]?.superuser).toBe(false);
    expect(rows[0]?.owner).not.toBe(rows[0]?.name);
  });

  it('may not alter a table, drop or disable a trigger, or truncate', async () => {
    expect(await refusal(runtime, 'ALTER TABLE journal_entries ADD COLUMN note text')).toBe('42501: must be owner of table journal_entries');
    expect(await refusal(runtime, 'DROP TRIGGER journal_entries_append_only ON journal_entries')).toBe('42501: must be owner of relation journal_entries');
    expect(await refusal(runtime, 'ALTER TABLE postings DISABLE TRIGGER ALL')).toBe('42501: must be owner of table postings');
    expect(await refusal(runtime, 'ALTER TABLE postings DISABLE TRIGGER postings_append_only')).toBe('42501: must be owner of table postings');
    expect(await refusal(runtime, 'DROP TABLE refused_commands')).toBe('42501: must be owner of table refused_commands');
    expect(await refusal(runtime, 'TRUNCATE holds')).toBe('42501: permission denied for table holds');
    expect(await refusal(runtime, 'TRUNCATE balances')).toBe('42501: permission denied for table balances');
    expect(await refusal(runtime, 'CREATE TABLE accounts.planted (id int)')).toBe('42501: permission denied for schema accounts');
    // Replica mode skips every trigger; only a superuser may set it.
    expect(await refusal(runtime, 'SET session_replication_role = replica')).toBe('42501: permission denied to set parameter "session_replication_role"');
  });

  it('may not update or delete journal rows or recorded refusals at all (refused before any trigger runs)', async () => {
    expect(await refusal(runtime, `UPDATE journal_entries SET description = 'rewritten'`)).toBe('42501: permission denied for table journal_entries');
    expect(await refusal(runtime, 'DELETE FROM journal_entries')).toBe('42501: permission denied for table journal_entries');
    expect(await refusal(runtime, 'UPDATE postings SET amount = amount + 1')).toBe('42501: permission denied for table postings');
    expect(await refusal(runtime, 'DELETE FROM postings')).toBe('42501: permission denied for table postings');
    expect(await refusal(runtime, 'DELETE FROM refused_commands')).toBe('42501: permission denied for table refused_commands');
    expect(await refusal(runtime, `DELETE FROM migrations`)).toBe('42501: permission denied for table migrations');
    const count = await owner.query<{ n: string }>('SELECT count(*) AS n FROM postings');
    expect(Number(count.rows[0]?.n)).toBeGreaterThan(0);
  });

  it('is created with a SCRAM verifier equal to the one PostgreSQL makes of the same password (so the password itself is never sent)', async () => {
    const probe = `probe_${Date.now()}`;
    await owner.query(`SET password_encryption = 'scram-sha-256'; CREATE ROLE ${probe} PASSWORD 'pencil'`);
    try {
      const { rows } = await owner.query<{ stored: string }>('SELECT rolpassword AS stored FROM pg_authid WHERE rolname = $1', [probe]);
      const stored = rows[0]?.stored ?? '';
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored) ?? [];
      expect(scramVerifier('pencil', Buffer.from(salt ?? '', 'base64'), Number(iterations))).toBe(stored);
    } finally {
      await owner.query(`DROP ROLE ${probe}`);
    }
  });

  it('reaches no other schema', async () => {
    await owner.query('CREATE SCHEMA IF NOT EXISTS neighbour; CREATE TABLE IF NOT EXISTS neighbour.secrets (value text)');
    expect(await refusal(runtime, 'SELECT * FROM neighbour.secrets')).toBe('42501: permission denied for schema neighbour');
  });

  it('still does its own work: reads, inserts and updates balances, and verify finds the ledger sound', async () => {
    const wallet = await fundedWallet(stack, 250);
    expect(await balanceOf(stack, wallet.id)).toBe(250);
    expect((await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).body).toMatchObject({ ok: true, problems: [] });
  });

  it('gets DML on a table the owner adds later (default privileges), and a restart gives exactly the declared grants again', async () => {
    await owner.query('CREATE TABLE later_table (id int PRIMARY KEY)');
    expect(await refusal(runtime, 'INSERT INTO later_table VALUES (1)')).toBe('applied');
    await owner.query(`GRANT UPDATE ON journal_entries TO ${owner.escapeIdentifier(await roleName(runtime))}`);
    const replica = await stack.startReplica(accounts); // migrates (nothing pending) and grants again as the owner
    expect((await fetch(`${replica.url}/health/ready`)).status).toBe(200);
    expect(await refusal(runtime, `UPDATE journal_entries SET description = 'rewritten'`)).toBe('42501: permission denied for table journal_entries');
  });

  it('boots with DATABASE_URL alone once the owner has migrated (the separate `main.js migrate` deployment)', async () => {
    const replica = await stack.startReplica({ ...accounts, env: { DATABASE_OWNER_URL: '' } });
    const alone = { ...stack, urls: { ...stack.urls, accounts: replica.url } };
    const wallet = await fundedWallet(alone, 40);
    expect(await balanceOf(alone, wallet.id)).toBe(40);
  });
});

async function balanceOf(stack: InProcessStack, id: string): Promise<number> {
  const found = await adminFetch<{ balance: { posted: number } }>(stack, 'accounts', 'GET', `/v1/accounts/${id}`);
  expect(found.status).toBe(200);
  return found.body.balance.posted;
}

async function roleName(client: pg.Client): Promise<string> {
  return (await client.query<{ name: string }>('SELECT current_user AS name')).rows[0]?.name ?? '';
}

describe('a single DATABASE_URL (no owner URL)', () => {
  it('migrates and runs as that one role, which owns its tables (and so could drop their guards)', async () => {
    const stack = await startInProcess([accounts], { databaseRoles: false });
    try {
      expect(stack.serviceDatabaseUrl('accounts')).toBe(stack.databaseUrl);
      const wallet = await fundedWallet(stack, 75);
      expect(await balanceOf(stack, wallet.id)).toBe(75);
      const client = await connect(stack.databaseUrl);
      try {
        const owner = await client.query<{ owner: string; me: string }>(
          `SELECT tableowner AS owner, current_user AS me FROM pg_tables WHERE schemaname = 'accounts' AND tablename = 'journal_entries'`,
        );
        expect(owner.rows[0]?.owner).toBe(owner.rows[0]?.me);
      } finally {
        await client.end();
      }
    } finally {
      await stack.stop();
    }
  });
});
