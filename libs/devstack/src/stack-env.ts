import { randomBytes } from 'node:crypto';

export const serviceNames = ['accounts', 'merchants', 'payments', 'push'] as const;
export type ServiceName = (typeof serviceNames)[number];

export const default_service_ports: Readonly<Record<ServiceName, number>> = {
  accounts: 3001,
  merchants: 3002,
  payments: 3003,
  push: 3004,
};

export const nats_prefix_pattern = /^[A-Za-z0-9_-]{1,32}$/;
export const secrets_key_bytes = 32;
const admin_token_bytes = 32;
const admin_token_length_min = 16;

/** Each service reads its own HTTP port from `<NAME>_PORT`. */
export function servicePortVariable(name: string): string {
  return `${name.toUpperCase()}_PORT`;
}

export function isServiceName(name: string): name is ServiceName {
  return (serviceNames as readonly string[]).includes(name);
}

/** The default ports, each overridable by its `<NAME>_PORT` variable. */
export function servicePortsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<ServiceName, number> {
  const ports = { ...default_service_ports };
  for (const name of serviceNames) {
    const value = env[servicePortVariable(name)];
    if (value === undefined || value === '') continue;
    const port = Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new RangeError(`${servicePortVariable(name)} must be a port number (1..65535), got "${value}"`);
    }
    ports[name] = port;
  }
  return ports;
}

/** An operator bearer token: 32 random bytes, base64url. */
export function generateAdminToken(): string {
  return randomBytes(admin_token_bytes).toString('base64url');
}

/** The key that encrypts secrets at rest: 32 random bytes, base64. */
export function generateSecretsKey(): string {
  return randomBytes(secrets_key_bytes).toString('base64');
}

export function isValidSecretsKey(key: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(key) && Buffer.from(key, 'base64').length === secrets_key_bytes;
}

export function isValidAdminToken(token: string): boolean {
  return token.length >= admin_token_length_min && !/\s/.test(token);
}

export interface StackSettings {
  databaseUrl: string;
  natsUrl: string;
  natsPrefix: string;
  adminToken: string;
  secretsKey: string;
  ports: Readonly<Record<ServiceName, number>>;
  /** Multiplies webhook retry delays; 1 in production, small in tests. */
  webhookRetryScale?: number;
  webhookAllowPrivate?: boolean;
  logLevel?: string;
}

/** The environment every service of one stack reads (the env contract). */
export function buildStackEnv(settings: StackSettings): Record<string, string> {
  if (!nats_prefix_pattern.test(settings.natsPrefix)) {
    throw new RangeError(`NATS prefix must match ${nats_prefix_pattern}, got "${settings.natsPrefix}"`);
  }
  if (!isValidSecretsKey(settings.secretsKey)) throw new RangeError('SECRETS_KEY must be 32 bytes, base64 encoded');
  if (!isValidAdminToken(settings.adminToken)) throw new RangeError(`ADMIN_TOKEN must be at least ${admin_token_length_min} characters, no spaces`);
  const env: Record<string, string> = {
    DATABASE_URL: settings.databaseUrl,
    NATS_URL: settings.natsUrl,
    NATS_PREFIX: settings.natsPrefix,
    ADMIN_TOKEN: settings.adminToken,
    SECRETS_KEY: settings.secretsKey,
    WEBHOOK_RETRY_SCALE: String(settings.webhookRetryScale ?? 1),
    WEBHOOK_ALLOW_PRIVATE: String(settings.webhookAllowPrivate ?? true),
    LOG_LEVEL: settings.logLevel ?? 'info',
  };
  for (const name of serviceNames) env[servicePortVariable(name)] = String(settings.ports[name]);
  return env;
}
