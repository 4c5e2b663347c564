import { accessSync, constants } from 'node:fs';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';

/**
 * Settings every service reads. Each app extends this schema with its own and
 * validates the environment once at boot: a missing or bad variable stops
 * the service with one line naming it.
 */
export const idempotency_retention_seconds_min = 24 * 3600;
export const idempotency_retention_seconds_default = 48 * 3600;
const idempotency_retention_seconds_max = 30 * 24 * 3600;
export const idempotency_lease_seconds_default = 30;

/** Chosen by measurement: docs/ARCHITECTURE.md, "Group commit". */
export const group_commit_in_flight_default = 1;
/** Sized by measurement: docs/BENCHMARKS.md, "Flood". */
export const max_concurrent_requests_default = 8;
export const max_pending_requests_per_principal_default = 64;
/** Requests of a principal that start at once before pacing spreads the rest (docs/BENCHMARKS.md, "Flood"). */
const rate_limit_burst_default = 4;

/** MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL unset: half the slots, rounded up (docs/BENCHMARKS.md, "Flood"). */
export function concurrentRequestsPerPrincipal(config: Pick<BaseConfig, 'MAX_CONCURRENT_REQUESTS' | 'MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL'>): number {
  return Math.min(config.MAX_CONCURRENT_REQUESTS, config.MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL ?? Math.ceil(config.MAX_CONCURRENT_REQUESTS / 2));
}

const port_error = { error: 'must be a port number, 1 to 65535' };
export const port = z.coerce.number(port_error).int(port_error).min(1, port_error).max(65_535, port_error);

export const base_config_schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  /**
   * The owner of the service's tables, for migrations and grants only: the
   * service then runs as DATABASE_URL's role with DML alone (docs/SECURITY.md,
   * "Database roles"). Unset (or empty): DATABASE_URL's role migrates and
   * owns its tables, or finds them migrated already (`main.js migrate`).
   */
  DATABASE_OWNER_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  ),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  /**
   * Pooled connections a replica opens as it starts (at most DATABASE_POOL_SIZE); like every pooled connection
   * they are kept until idle for 5 minutes, so a burst after a quiet spell does not pay for opening them.
   */
  DATABASE_POOL_MIN: z.coerce.number().int().min(0).max(200).default(4),
  /**
   * GroupCommit: transactions of its statements a replica runs at once; statements arriving while
   * that many run wait and then commit together in one (docs/ARCHITECTURE.md, "Group commit"). 0: each alone.
   */
  DATABASE_GROUP_COMMIT_IN_FLIGHT: z.coerce.number().int().min(0).max(64).default(group_commit_in_flight_default),
  NATS_URL: z.string().regex(/^(nats|tls):\/\//, 'must be a nats:// or tls:// URL'),
  NATS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1 to 32 characters of [A-Za-z0-9_-]')
    .default('paynet'),
  /** The service's own NATS user (docs/SECURITY.md); with NATS_PASSWORD. Unset: connect without credentials. */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  /** A NATS credentials file (JWT and nkey seed, for servers in operator mode), instead of NATS_USER. */
  NATS_CREDS: z.string().min(1).optional(),
  /** TLS: the CA that signed the server's certificate; a client certificate and its key for mutual TLS. */
  NATS_TLS_CA: z.string().min(1).optional(),
  NATS_TLS_CERT: z.string().min(1).optional(),
  NATS_TLS_KEY: z.string().min(1).optional(),
  NATS_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  SECRETS_KEY: z
    .string()
    .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64 encoded'),
  /**
   * The key(s) SECRETS_KEY replaced, comma separated: what they sealed still
   * opens, new seals use SECRETS_KEY; `npm run secrets:reseal` moves every
   * stored secret to SECRETS_KEY, after which this can be unset (docs/SECURITY.md).
   */
  SECRETS_KEY_PREVIOUS: z
    .string()
    .optional()
    .transform((value) => (value ?? '').split(',').map((key) => key.trim()).filter((key) => key !== ''))
    .refine((keys) => keys.every((key) => Buffer.from(key, 'base64').length === 32), 'must be 32-byte keys, base64 encoded, comma separated'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HTTP_BODY_LIMIT: z.string().default('64kb'),
  /** How long Idempotency-Key answers are kept: API.md promises at least 24 h. */
  IDEMPOTENCY_RETENTION_SECONDS: z.coerce
    .number()
    .int()
    .min(idempotency_retention_seconds_min, `must be at least ${idempotency_retention_seconds_min} (24 h, API.md)`)
    .max(idempotency_retention_seconds_max)
    .default(idempotency_retention_seconds_default),
  /** The lease of an Idempotency-Key claim, renewed while its request runs (short only in tests of slow requests). */
  IDEMPOTENCY_LEASE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(idempotency_lease_seconds_default),
  /** How often keys past their retention are deleted. */
  IDEMPOTENCY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  /** How long a published event is kept in its service's outbox table before OutboxPruner deletes it (the stream keeps it a week). */
  OUTBOX_RETENTION_SECONDS: z.coerce.number().int().min(60).max(30 * 24 * 3600).default(3_600),
  /** API.md: requests a second per principal, across all replicas of the service (docs/SECURITY.md, Rate limits). */
  RATE_LIMIT_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /** API.md: requests a second per client address that carry no valid credentials, across all replicas. */
  RATE_LIMIT_UNAUTHENTICATED_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /**
   * Pacing (docs/SECURITY.md, Rate limits): requests of one principal (or address) that start at once on a replica
   * before the rest of its budget is spread over the second, one per (1 s / its share of the budget); they wait, not refused.
   */
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(rate_limit_burst_default),
  /**
   * Requests one replica serves at once (past the guard, until the response is finished); more wait,
   * and a free slot goes to the principal that held slots the least time recently (docs/SECURITY.md, Rate limits).
   */
  MAX_CONCURRENT_REQUESTS: z.coerce.number().int().min(1).max(100_000).default(max_concurrent_requests_default),
  /**
   * Slots one principal (or client address) may hold at once on one replica while others are active there and it
   * has held slots longer than their mean (a principal alone, or at or below the mean, may hold all); its other
   * requests wait, even while slots are free, so another principal finds one at once. Unset: half of
   * MAX_CONCURRENT_REQUESTS, rounded up.
   */
  MAX_CONCURRENT_REQUESTS_PER_PRINCIPAL: z.coerce.number().int().min(1).max(100_000).optional(),
  /** Requests one principal (or client address, without valid credentials) has in flight and waiting on one replica; 429 beyond. */
  MAX_PENDING_REQUESTS_PER_PRINCIPAL: z.coerce.number().int().min(1).max(100_000).default(max_pending_requests_per_principal_default),
  /**
   * Proxies whose X-Forwarded-For names the client address (proxy-addr's list: addresses, CIDR
   * ranges, `loopback`, `linklocal`, `uniquelocal`, comma separated). Empty: the socket's peer is the client.
   */
  TRUST_PROXY: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((part) => part.trim()).filter((part) => part !== ''))
    .refine(isProxyList, 'must be addresses, CIDR ranges, loopback, linklocal or uniquelocal, comma separated'),
});

function isProxyList(list: string[]): boolean {
  try {
    proxyaddr.compile(list);
    return true;
  } catch {
    return false;
  }
}
export type BaseConfig = z.infer<typeof base_config_schema>;

export class ConfigError extends Error {}

/** Parses `env` with `schema`; the error names the first bad variable in one line. */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) {
    checkNatsAccess(result.data as Partial<BaseConfig>);
    return result.data;
  }
  const issue = result.error.issues[0];
  const name = issue?.path.join('.') ?? 'environment';
  const value = issue && issue.path.length > 0 ? env[String(issue.path[0])] : undefined;
  const reason = value === undefined ? 'is required' : issue?.message ?? 'is invalid';
  throw new ConfigError(`config: ${name} ${reason}`);
}

/** For main.ts: validate or print the one line and exit 1. */
export function loadConfigOrExit<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return parseConfig(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

/** NATS settings that only make sense together, and files that must be readable at boot rather than at the first reconnect. */
function checkNatsAccess(config: Partial<BaseConfig>): void {
  const together = [
    ['NATS_USER', 'NATS_PASSWORD'],
    ['NATS_TLS_CERT', 'NATS_TLS_KEY'],
  ] as const;
  for (const [first, second] of together) {
    if ((config[first] === undefined) !== (config[second] === undefined)) {
      const missing = config[first] === undefined ? first : second;
      throw new ConfigError(`config: ${missing} is required with ${missing === first ? second : first}`);
    }
  }
  if (config.NATS_CREDS !== undefined && config.NATS_USER !== undefined) {
    throw new ConfigError('config: NATS_CREDS cannot be used with NATS_USER (one way to log in)');
  }
  for (const name of ['NATS_CREDS', 'NATS_TLS_CA', 'NATS_TLS_CERT', 'NATS_TLS_KEY'] as const) {
    const file = config[name];
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new ConfigError(`config: ${name} must be a readable file`);
    }
  }
}

export const CONFIG = Symbol('CONFIG');
