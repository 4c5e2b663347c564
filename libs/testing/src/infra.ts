import { canConnect, createDatabase, dropDatabase, ensureNats, ensurePostgres, hasJetStream, isProcessAlive, redactUrl } from '@paynet/devstack';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueDatabaseName } from './names.js';
import { workspaceRoot } from './workspace.js';

export interface TestInfra {
  /** A server URL whose user may create and drop databases. */
  adminDatabaseUrl: string;
  /** A NATS with JetStream. */
  natsUrl: string;
}

// Set to 1 to start servers here even when 5432 / 4222 answer (checks the path a clean CI machine takes).
const own_infra_variable = 'PAYNET_TEST_OWN_INFRA';
const runs_pruned_max = 1_000;

let infra: Promise<TestInfra> | undefined;

/**
 * PostgreSQL and NATS for integration tests: DATABASE_URL / NATS_URL if set,
 * else those on 127.0.0.1:5432 / 4222 if they answer, else started here once
 * per process (throwaway data under tmp/test-infra/<pid>) and stopped when
 * the process ends. PAYNET_TEST_OWN_INFRA=1 skips the servers on 5432 / 4222.
 */
export function testInfra(): Promise<TestInfra> {
  infra ??= findOrStartInfra().catch((error: unknown) => {
    infra = undefined; // let a later call try again
    throw error;
  });
  return infra;
}

async function findOrStartInfra(): Promise<TestInfra> {
  // Jest gives every test file its own module instances (and its own copy of
  // process.env), so "once per process" is kept in a file named by our pid.
  const runs = join(workspaceRoot(), 'tmp', 'test-infra');
  const run = join(runs, String(process.pid));
  const shared = await readShared(join(run, 'infra.json'));
  if (shared) return shared;
  pruneDeadRuns(runs);
  // Ours to end: the devstack reaper stops them (and removes their folders) when this process exits.
  const common = { preferExisting: process.env[own_infra_variable] !== '1', ephemeral: true, unref: true };
  const postgres = await ensurePostgres({ ...common, dataDir: join(run, 'postgres') });
  const nats = await ensureNats({ ...common, dataDir: join(run, 'nats') });
  const found = { adminDatabaseUrl: postgres.url, natsUrl: nats.url };
  for (const [what, handle] of [['PostgreSQL', postgres], ['nats-server', nats]] as const) {
    if (handle.started) process.stderr.write(`testing: started ${what} at ${redactUrl(handle.url)} for test process ${process.pid}\n`);
  }
  if (postgres.started || nats.started) {
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'infra.json'), JSON.stringify(found));
  }
  return found;
}

/** What an earlier test file of this process started, if it still answers. */
async function readShared(file: string): Promise<TestInfra | undefined> {
  let shared: Partial<TestInfra>;
  try {
    shared = JSON.parse(readFileSync(file, 'utf8')) as Partial<TestInfra>;
  } catch {
    return undefined;
  }
  const { adminDatabaseUrl, natsUrl } = shared;
  if (typeof adminDatabaseUrl !== 'string' || typeof natsUrl !== 'string') return undefined;
  if (!(await canConnect(adminDatabaseUrl)) || !(await hasJetStream(natsUrl))) return undefined;
  return { adminDatabaseUrl, natsUrl };
}

/** Folders of test processes that are gone (the reaper normally removes them; a crash may not). */
function pruneDeadRuns(runs: string): void {
  let entries: string[];
  try {
    entries = readdirSync(runs).slice(0, runs_pruned_max);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (Number.isSafeInteger(pid) && pid > 0 && !isProcessAlive(pid)) rmSync(join(runs, entry), { recursive: true, force: true });
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** The server's admin URL (it created the database; it may create and drop roles). */
  adminUrl: string;
  /** Drops it, ending any sessions still open. */
  drop(): Promise<void>;
}

/** A new, empty database with a unique name (e.g. paynet_test_k3j9x0q1m2ab). */
export async function createTestDatabase(prefix = 'paynet_test', infra?: TestInfra): Promise<TestDatabase> {
  const { adminDatabaseUrl } = infra ?? (await testInfra());
  const name = uniqueDatabaseName(prefix);
  const url = await createDatabase(adminDatabaseUrl, name);
  return { name, url, adminUrl: adminDatabaseUrl, drop: () => dropDatabase(adminDatabaseUrl, name) };
}
