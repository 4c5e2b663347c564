import { Logger } from '@nestjs/common';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations, type ServiceDatabaseSettings } from './database.js';

/**
 * The service's runtime role (the user of DATABASE_URL) gets plain DML on its
 * own schema and nothing else: no ownership (so no ALTER, DROP, TRIGGER,
 * DISABLE TRIGGER), no TRUNCATE, no CREATE in the schema. Its append-only
 * tables (the journal) give it SELECT and INSERT only. The owner of the
 * tables (the user of DATABASE_OWNER_URL) runs the migrations and then these
 * grants, at every migration run, so tables added by later migrations are
 * covered; default privileges cover tables the owner creates by hand.
 * docs/SECURITY.md, "Database roles".
 */
export interface RuntimeRoleSettings {
  schema: string;
  /** DATABASE_URL: its user is the role; its password is given to a role we create. */
  runtime_url: string;
  /** Tables the runtime role may read and insert into, never update, delete or truncate. */
  append_only_tables: readonly string[];
}

/** The runtime role's user name and password as DATABASE_URL says them (percent-decoded). */
export function roleOfUrl(url: string): { user: string; password: string | undefined } {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  if (!user) throw new Error('DATABASE_URL names no user: with DATABASE_OWNER_URL it must name the service role');
  return { user, password: parsed.password ? decodeURIComponent(parsed.password) : undefined };
}

const scram_iterations = 4096;
const scram_salt_bytes = 16;

/**
 * A SCRAM-SHA-256 verifier for `password` (RFC 5802/7677, PostgreSQL's stored
 * form): CREATE ROLE gets the verifier, so the password itself never reaches
 * the server and cannot appear in its statement log. PostgreSQL prepares the
 * password with SASLprep; NFKC here is the same for every ASCII password (all
 * that devstack and `npm run db:passwords` generate).
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(scram_salt_bytes), iterations = scram_iterations): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const duplicate_object = '42710';
const unique_violation = '23505';
const insufficient_privilege = '42501';

/**
 * On the owner's connection, after the migrations: creates the runtime role
 * if it does not exist (LOGIN, DATABASE_URL's password; nothing else), then
 * sets its privileges on the schema to exactly the DML it needs. A role that
 * exists keeps its password and attributes (its administrator's business),
 * but a superuser or a role that owns the schema is reported: it could
 * still drop the journal's guards.
 */
export async function grantRuntimeRole(owner: pg.ClientBase, settings: RuntimeRoleSettings): Promise<void> {
  const logger = new Logger('DatabaseRoles');
  const { user, password } = roleOfUrl(settings.runtime_url);
  const current = (await owner.query<{ user: string }>('SELECT current_user AS user')).rows[0]?.user;
  if (current === user) {
    logger.warn(`DATABASE_URL and DATABASE_OWNER_URL are the same role (${user}): the service owns its tables (docs/SECURITY.md, "Database roles")`);
    return;
  }
  await ensureRole(owner, user, password);
  const role = owner.escapeIdentifier(user);
  const schema = owner.escapeIdentifier(settings.schema);
  const statements = [
    `GRANT USAGE ON SCHEMA ${schema} TO ${role}`,
    // Exactly what is granted below, whatever an earlier run or a person granted before.
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${schema} FROM ${role}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${schema} FROM ${role}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}`,
    // The migrations table is the owner's to write; the service reads it to see that it is up to date.
    `REVOKE INSERT, UPDATE, DELETE ON ${schema}.migrations FROM ${role}`,
    ...settings.append_only_tables.map((table) => `REVOKE UPDATE, DELETE ON ${schema}.${owner.escapeIdentifier(table)} FROM ${role}`),
    // Tables the owner creates outside a migration run (by hand) get the same DML.
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT USAGE, SELECT ON SEQUENCES TO ${role}`,
  ];
  await owner.query('BEGIN');
  try {
    for (const statement of statements) await owner.query(statement);
    await owner.query('COMMIT');
  } catch (error) {
    await owner.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await reportPowerfulRole(owner, user, settings.schema, logger);
}

async function ensureRole(owner: pg.ClientBase, user: string, password: string | undefined): Promise<void> {
  const found = await owner.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
  if (found.rowCount === 1) return;
  const credentials = password === undefined ? '' : ` PASSWORD ${owner.escapeLiteral(scramVerifier(password))}`;
  try {
    await owner.query(`CREATE ROLE ${owner.escapeIdentifier(user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS${credentials}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === duplicate_object || code === unique_violation) return; // another service's boot created it first
    if (code === insufficient_privilege) {
      throw new Error(`the role ${user} of DATABASE_URL does not exist and DATABASE_OWNER_URL's role may not create it: create it (CREATE ROLE ${user} LOGIN PASSWORD ...)`);
    }
    throw error;
  }
}

async function reportPowerfulRole(owner: pg.ClientBase, user: string, schema: string, logger: Logger): Promise<void> {
  const result = await owner.query<{ superuser: boolean; owns: boolean }>(
    `SELECT r.rolsuper AS superuser,
            pg_has_role(r.oid, n.nspowner, 'USAGE') OR EXISTS (
              SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND pg_has_role(r.oid, c.relowner, 'USAGE')) AS owns
       FROM pg_roles r, pg_namespace n WHERE r.rolname = $1 AND n.nspname = $2`,
    [user, schema],
  );
  const row = result.rows[0];
  if (row?.superuser || row?.owns) {
    logger.warn(`the role ${user} of DATABASE_URL ${row.superuser ? 'is a superuser' : `owns (or is a member of the owner of) schema ${schema}`}: it can alter its tables and drop their triggers`);
  }
}

export interface OwnerMigrationSettings {
  /** DATABASE_OWNER_URL: the tables' owner. */
  owner_url: string;
  /** DATABASE_URL: the role the service runs as. */
  runtime_url: string;
  schema: string;
  migrations: ServiceDatabaseSettings['migrations'];
  append_only_tables: readonly string[];
  application_name: string;
}

/**
 * Migrates as the owner on a connection of its own (closed afterwards), then
 * grants the runtime role its DML, under the migration lock. The service's
 * own pool is opened after this, as the runtime role (which it may create).
 */
export async function migrateAsOwner(settings: OwnerMigrationSettings): Promise<string[]> {
  const dataSource = new DataSource(
    dataSourceOptions({
      url: settings.owner_url,
      schema: settings.schema,
      pool_size: 2, // the lock's connection and the migrations'
      entities: [],
      migrations: settings.migrations,
      application_name: `${settings.application_name}-migrate`,
    }),
  );
  await dataSource.initialize();
  try {
    return await runMigrations(dataSource, settings.schema, (owner) =>
      grantRuntimeRole(owner, { schema: settings.schema, runtime_url: settings.runtime_url, append_only_tables: settings.append_only_tables }),
    );
  } finally {
    await dataSource.destroy();
  }
}
