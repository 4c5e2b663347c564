export { ManagedChild, runCommand, stop_timeout_ms, type ExitInfo, type ManagedChildOptions, type RunResult } from './child.js';
export { canConnect, createDatabase, databaseUrl, dropDatabase, ensureDatabase, redactUrl, withClient } from './database.js';
export type { InfraHandle } from './infra.js';
export {
  ensureNats,
  existing_nats_url,
  findNatsServer,
  hasJetStream,
  nats_install_hint,
  natsTlsConfig,
  type EnsureNatsOptions,
  type NatsServerAuth,
  type NatsServerTls,
} from './nats.js';
export { isProcessAlive, stopLeftover, type Leftover } from './leftover.js';
export { findFreePort, isPortFree, isReachable, loopback_host, withPortRetry } from './ports.js';
export { ensurePostgres, existing_postgres_url, startEmbeddedPostgres, type EnsurePostgresOptions } from './postgres.js';
export { service_node_flags, startService, waitReady, type ServiceHandle, type StartServiceOptions, type WaitReadyOptions } from './service.js';
export { errorMessage, sleep, withinTime } from './sleep.js';
export {
  buildStackEnv,
  default_service_ports,
  generateAdminToken,
  generateSecretsKey,
  isServiceName,
  isValidAdminToken,
  isValidSecretsKey,
  nats_prefix_pattern,
  serviceNames,
  servicePortsFromEnv,
  servicePortVariable,
  type ServiceName,
  type StackSettings,
} from './stack-env.js';
export { findWorkspaceRoot, serviceEntry } from './workspace.js';
export {
  generateNatsUsers,
  nats_bus,
  nats_user_names,
  natsAuthorizationConfig,
  natsPasswordEnv,
  natsPasswordVariable,
  natsPermissions,
  serviceNatsEnv,
  type NatsCredentials,
  type NatsPermissions,
  type NatsUserName,
  type NatsUsers,
} from './nats-users.js';
export {
  databasePasswordVariable,
  database_owner_password_variable,
  databaseRoleName,
  dropDatabaseRoles,
  generateDatabaseRoles,
  roleDatabaseUrl,
  serviceDatabaseEnv,
  type DatabaseRole,
  type DatabaseRoles,
} from './database-roles.js';
