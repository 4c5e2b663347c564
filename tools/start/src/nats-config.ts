/**
 * The NATS users for docker/compose.yaml, from the devstack table:
 *   node dist/tools/start/src/nats-config.js conf   the nats-server config (docker/nats-server.conf; no secret in it)
 *   node dist/tools/start/src/nats-config.js env    fresh random passwords, lines for docker/.env
 *   node dist/tools/start/src/nats-config.js db-env fresh random passwords of the database roles, lines for docker/.env
 */
import { default_nats_prefix } from '@paynet/contracts';
import {
  database_owner_password_variable,
  databasePasswordVariable,
  generateDatabaseRoles,
  generateNatsUsers,
  natsAuthorizationConfig,
  natsPasswordEnv,
  serviceNames,
} from '@paynet/devstack';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

/** docker/compose.yaml runs with the default prefix. */
export function composeNatsConfig(): string {
  return natsAuthorizationConfig(default_nats_prefix);
}

export function freshPasswordLines(): string {
  return Object.entries(natsPasswordEnv(generateNatsUsers()))
    .map(([variable, password]) => `${variable}=${password}\n`)
    .join('');
}

/** The database owner's and each service role's password (compose creates the roles with them at the first migration). */
export function freshDatabasePasswordLines(): string {
  const roles = generateDatabaseRoles('paynet');
  const lines = [`${database_owner_password_variable}=${randomBytes(24).toString('base64url')}`];
  for (const name of serviceNames) lines.push(`${databasePasswordVariable(name)}=${roles[name].password}`);
  return lines.map((line) => `${line}\n`).join('');
}

function main(what: string | undefined): void {
  if (what === 'conf') process.stdout.write(composeNatsConfig());
  else if (what === 'env') process.stdout.write(freshPasswordLines());
  else if (what === 'db-env') process.stdout.write(freshDatabasePasswordLines());
  else {
    process.stderr.write('usage: nats-config.js conf | env | db-env\n');
    process.exitCode = 2;
  }
}

// Run as a command only (the spec imports the functions).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv[2]);
