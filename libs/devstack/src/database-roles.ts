import { randomBytes } from 'node:crypto';
import { withClient } from './database.js';
import { type ServiceName, serviceNames } from './stack-env.js';

/**
 * Each service runs as a login role of its own with DML on its schema only;
 * the URL we were given (its user owns the tables) becomes the service's
 * DATABASE_OWNER_URL, used for migrations and grants alone. The service
 * creates its role at boot when the owner may (see @paynet/platform
 * grantRuntimeRole). docs/SECURITY.md, "Database roles".
 */
export interface DatabaseRole {
  user: string;
  password: string;
}
export type DatabaseRoles = Readonly<Record<ServiceName, DatabaseRole>>;

const role_name_pattern = /^[a-z_][a-z0-9_]{0,62}$/;
const password_bytes = 24;

/** `<prefix>_<service>`: paynet_accounts for `npm start`, <test database>_accounts for a test stack. */
export function databaseRoleName(prefix: string, service: ServiceName): string {
  const name = `${prefix}_${service}`;
  if (!role_name_pattern.test(name)) throw new RangeError(`database role name must match ${role_name_pattern}, got "${name}"`);
  return name;
}

/** A role per service with a fresh random password (base64url: nothing to escape in a URL). */
export function generateDatabaseRoles(prefix: string): DatabaseRoles {
  return Object.fromEntries(
    serviceNames.map((name) => [name, { user: databaseRoleName(prefix, name), password: randomBytes(password_bytes).toString('base64url') }]),
  ) as Record<ServiceName, DatabaseRole>;
}

/** `ownerUrl` with the role's user and password instead of the owner's. */
export function roleDatabaseUrl(ownerUrl: string, role: DatabaseRole): string {
  const url = new URL(ownerUrl);
  url.username = encodeURIComponent(role.user);
  url.password = encodeURIComponent(role.password);
  return url.toString();
}

/** The database settings of one service: its own role at runtime, the owner for migrations. */
export function serviceDatabaseEnv(ownerUrl: string, roles: DatabaseRoles, name: ServiceName): Record<'DATABASE_URL' | 'DATABASE_OWNER_URL', string> {
  return { DATABASE_URL: roleDatabaseUrl(ownerUrl, roles[name]), DATABASE_OWNER_URL: ownerUrl };
}

/**
 * Drops the roles (a test stack's, once its database is dropped: their
 * privileges went with it). A role still granted something elsewhere stays.
 */
export async function dropDatabaseRoles(adminUrl: string, roles: Partial<DatabaseRoles>): Promise<void> {
  await withClient(adminUrl, async (client) => {
    for (const role of Object.values(roles).filter((role) => role !== undefined)) {
      await client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(role.user)}`).catch(() => undefined);
    }
  });
}

/** The compose variable holding a service role's password (docker/compose.yaml). */
export function databasePasswordVariable(name: ServiceName): string {
  return `PAYNET_DB_${name.toUpperCase()}_PASSWORD`;
}

/** The owner's password variable in docker/compose.yaml. */
export const database_owner_password_variable = 'PAYNET_DB_OWNER_PASSWORD';
