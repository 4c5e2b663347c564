import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, createDatabase, dropDatabase, ensureDatabase, redactUrl, withClient } from './database.js';
import type { InfraHandle } from './infra.js';
import { ensurePostgres } from './postgres.js';

// initdb on first use: a few seconds, more on a busy machine.
const start_timeout_ms = 90_000;

describe('ensurePostgres with an embedded server', () => {
  let folder: string;
  let postgres: InfraHandle | undefined;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'devstack-pg-'));
    chmodSync(folder, 0o755); // as root the server runs as user postgres, which must enter it
    postgres = await ensurePostgres({ dataDir: join(folder, 'data'), env: {}, preferExisting: false, ephemeral: true, unref: true });
  }, start_timeout_ms);
  afterAll(async () => {
    await postgres?.stop();
    rmSync(folder, { recursive: true, force: true });
  }, start_timeout_ms);

  it('starts on a free port, not 5432, as postgres without a password', () => {
    expect(postgres?.started).toBe(true);
    expect(postgres?.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(postgres?.url).not.toContain(':5432/');
  });

  it('creates a database, answers in it, and drops it even with a session open', async () => {
    const adminUrl = postgres?.url ?? '';
    const url = await createDatabase(adminUrl, 'devstack_probe');
    expect(url).toMatch(/\/devstack_probe$/);
    expect(await ensureDatabase(adminUrl, 'devstack_probe')).toBe(url);
    const held = await withClient(url, async (client) => {
      const result = await client.query<{ name: string }>('SELECT current_database() AS name');
      return result.rows[0]?.name;
    });
    expect(held).toBe('devstack_probe');
    await dropDatabase(adminUrl, 'devstack_probe');
    expect(await canConnect(url)).toBe(false);
    await dropDatabase(adminUrl, 'devstack_probe'); // dropping again is harmless
  });

  it('refuses database names that are not plain identifiers', async () => {
    await expect(createDatabase(postgres?.url ?? '', 'x"; DROP')).rejects.toThrow(RangeError);
  });

  it('uses DATABASE_URL when it is set, and stop() then leaves that server alone', async () => {
    const given = await ensurePostgres({ dataDir: join(folder, 'unused'), env: { DATABASE_URL: postgres?.url } });
    expect(given).toMatchObject({ url: postgres?.url, started: false });
    await given.stop();
    expect(await canConnect(postgres?.url ?? '')).toBe(true);
    expect(existsSync(join(folder, 'unused'))).toBe(false);
  });

  it('never prints a password', () => {
    expect(redactUrl('postgres://app:s3cret@db:5432/paynet')).toBe('postgres://app:***@db:5432/paynet');
  });
});
