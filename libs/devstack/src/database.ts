import pg from 'pg';

const database_name_pattern = /^[a-z_][a-z0-9_]{0,62}$/;
export const connect_timeout_ms = 5_000;

/** The URL of database `name` on the server of `serverUrl` (same user, host, options). */
export function databaseUrl(serverUrl: string, name: string): string {
  assertDatabaseName(name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A URL safe to print: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Runs `work` with a connected client, always closing it. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connect_timeout_ms });
  // An idle client's error (server shutting down) must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether a client can log in and run a query at `url`. */
export async function canConnect(url: string): Promise<boolean> {
  try {
    await withClient(url, (client) => client.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

/** Creates database `name` (it must not exist) and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  assertDatabaseName(name);
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
  return databaseUrl(adminUrl, name);
}

/** Creates database `name` unless it exists; returns its URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  assertDatabaseName(name);
  const exists = await withClient(adminUrl, async (client) => {
    const result = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return result.rowCount === 1;
  });
  if (exists) return databaseUrl(adminUrl, name);
  try {
    return await createDatabase(adminUrl, name);
  } catch (error) {
    // Another process created it between our check and our create.
    if ((error as { code?: string }).code === '42P04') return databaseUrl(adminUrl, name);
    throw error;
  }
}

/** Drops database `name` if it exists, disconnecting its sessions (WITH FORCE, PostgreSQL 13+). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  assertDatabaseName(name);
  await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`));
}

function assertDatabaseName(name: string): void {
  if (!database_name_pattern.test(name)) {
    throw new RangeError(`database name must match ${database_name_pattern}, got "${name}"`);
  }
}
