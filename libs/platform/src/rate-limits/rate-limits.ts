import { Inject, Injectable } from '@nestjs/common';
import { ApiError } from '@paynet/contracts';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import proxyaddr from 'proxy-addr';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { type BaseConfig, CONFIG } from '../config/config.js';
import { rate_limited_total } from './rate-limit.metrics.js';
import { ReplicaCensus } from './replica-census.js';

/** Budgets are per second (API.md). */
const window_seconds = 1;
/** How long a credential seen to authenticate is remembered as its principal's (accounting only: every request is still checked). */
export const known_credential_ttl_ms = 60_000;
/** Credentials remembered; past it the oldest go first. */
export const known_credentials_max = 10_000;

/** Pure: this replica's share of a budget held across `replicas`: never more than budget / replicas in sum, at least 1. */
export function replicaShare(budget: number, replicas: number): number {
  return Math.max(1, Math.floor(budget / Math.max(1, replicas)));
}

/**
 * Pure: the key a client address is counted under. IPv4-mapped IPv6 is its
 * IPv4 address; an IPv6 address counts by its /64, the smallest block a
 * client is given, so walking through the addresses of one's own network
 * does not multiply the budget.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.toLowerCase().split('%')[0]?.split('::') ?? [''];
  const head_groups = head === '' ? [] : head.split(':');
  const tail_groups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = tail === undefined ? 0 : 8 - head_groups.length - tail_groups.length;
  const groups = [...head_groups, ...Array<string>(missing).fill('0'), ...tail_groups];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Pure: a bounded digest of a presented credential (never kept in the clear). */
export function credentialDigest(kind: string, value: string): string {
  return createHash('sha256').update(kind).update('\n').update(value).digest('base64url');
}

/**
 * What the request presents as its credential: the merchant's key id (not a
 * secret: API.md), or the bearer token's digest (never kept in the clear).
 */
export function claimedCredential(request: IncomingMessage): string | undefined {
  const memo = request as Presented;
  if (memo[claimed_memo] === undefined) memo[claimed_memo] = readClaimedCredential(request) ?? null;
  return memo[claimed_memo] ?? undefined;
}

function readClaimedCredential(request: IncomingMessage): string | undefined {
  const api_key = request.headers['x-api-key'];
  if (typeof api_key === 'string') return `merchant:${api_key}`;
  const authorization = request.headers.authorization;
  return authorization === undefined ? undefined : credentialDigest('authorization', authorization);
}

/**
 * What the door (EarlyRefusal) read from a request, kept on it so the guard
 * that charges it reads the same without parsing the proxy chain or hashing
 * the bearer token again.
 */
const address_memo = Symbol('paynet.client_address');
const claimed_memo = Symbol('paynet.claimed_credential');
type Presented = IncomingMessage & { [address_memo]?: string; [claimed_memo]?: string | null };

/** The rate budgets a request is charged to. */
export type Budget = 'principal' | 'address';

/** What RateLimits.atTheDoor found: the budget already spent, if any, and whose turn the request would take. */
export interface DoorCheck {
  spent: { budget: Budget; retry_after_seconds: number; window_ends_in_ms: number } | undefined;
  /** `principal:<scope>` or `address:<address>`, as admissionKey answers after beforeCheck. */
  key: string;
}

/** Whole seconds until the window ends: at least 1. */
function retryAfterSeconds(result: RateLimiterRes): number {
  return Math.max(1, Math.ceil(result.msBeforeNext / 1_000));
}

/** What a request was charged before its credentials were checked. */
export interface CheckTicket {
  address: string;
  claimed: string | undefined;
  /** The principal it was presumed to be (a credential seen to authenticate before), or its address. */
  charged: { budget: 'principal'; scope: string } | { budget: 'address' };
}

/**
 * The rate limits of API.md for this replica: per principal and per client
 * address, each a fixed one-second window in memory (rate-limiter-flexible),
 * at this replica's share of the budget (budget / live replicas, see
 * ReplicaCensus): no database or NATS round trip per request. Credentials
 * are checked by merchants or accounts, so a request is charged before its
 * check: to its address, refunded once it authenticates, or, when the same
 * credential authenticated recently, to that principal, moved to the address
 * if it fails. docs/SECURITY.md, "Rate limits", says why and the error bound.
 */
@Injectable()
export class RateLimits {
  private readonly principals: RateLimiterMemory;
  private readonly addresses: RateLimiterMemory;
  private readonly known = new Map<string, { scope: string; until_ms: number }>();
  private readonly trust: ReturnType<typeof proxyaddr.compile>;

  constructor(
    @Inject(CONFIG) private readonly config: BaseConfig,
    private readonly census: ReplicaCensus,
  ) {
    this.trust = proxyaddr.compile(config.TRUST_PROXY);
    this.principals = new RateLimiterMemory({ keyPrefix: 'principal', points: config.RATE_LIMIT_PER_SECOND, duration: window_seconds });
    this.addresses = new RateLimiterMemory({ keyPrefix: 'address', points: config.RATE_LIMIT_UNAUTHENTICATED_PER_SECOND, duration: window_seconds });
    this.reshare(census.replicas);
    census.onChange((replicas) => this.reshare(replicas));
  }

  /** This replica's share of a budget held across the service's replicas. */
  share(budget: number): number {
    return replicaShare(budget, this.census.replicas);
  }

  /** The client's address (X-Forwarded-For only from TRUST_PROXY), as counted. */
  clientAddress(request: IncomingMessage): string {
    return ((request as Presented)[address_memo] ??= addressKey(proxyaddr(request, this.trust)));
  }

  /**
   * Before anything is charged, read or parsed (EarlyRefusal): is the budget
   * this request would be charged to (see beforeCheck) spent already in this
   * window? Then beforeCheck would refuse it too. Charges nothing, so a
   * request claiming a principal's credential never costs that principal
   * here; `claimed` only picks whose spent budget refuses it.
   */
  async atTheDoor(address: string, claimed: string | undefined): Promise<DoorCheck> {
    const scope = claimed === undefined ? undefined : this.knownScope(claimed);
    const address_spent = await this.spent(this.addresses, address, 'address');
    if (scope === undefined || address_spent !== undefined) return { spent: address_spent, key: `address:${address}` };
    return { spent: await this.spent(this.principals, scope, 'principal'), key: `principal:${scope}` };
  }

  /** The 429 of a spent budget (no count: the caller counts it). */
  refusalError(budget: Budget, retry_after_seconds: number): ApiError {
    const message =
      budget === 'principal'
        ? `Too many requests for this API key or token: at most ${this.config.RATE_LIMIT_PER_SECOND} a second; retry after ${retry_after_seconds} s.`
        : `Too many requests without valid credentials from this address: at most ${this.config.RATE_LIMIT_UNAUTHENTICATED_PER_SECOND} a second; retry after ${retry_after_seconds} s.`;
    return ApiError.rateLimited(message, retry_after_seconds);
  }

  private async spent(limiter: RateLimiterMemory, key: string, budget: Budget): Promise<DoorCheck['spent']> {
    const used = await limiter.get(key);
    if (used === null || used.consumedPoints < limiter.points) return undefined;
    return { budget, retry_after_seconds: retryAfterSeconds(used), window_ends_in_ms: Math.max(0, used.msBeforeNext) };
  }

  /** A request whose credentials nobody checks (a public route): counted against its address. */
  async admitAnonymous(address: string): Promise<void> {
    await this.consume(this.addresses, address, 'address');
  }

  /**
   * Before a credential check: 429 when the presumed principal or the address
   * is out of budget, so a flood of bad credentials never reaches merchants
   * or accounts. Answers what was charged, for checkFailed / authenticated.
   */
  async beforeCheck(address: string, claimed: string | undefined): Promise<CheckTicket> {
    const scope = claimed === undefined ? undefined : this.knownScope(claimed);
    if (scope === undefined) {
      await this.consume(this.addresses, address, 'address');
      return { address, claimed, charged: { budget: 'address' } };
    }
    // Failures from this address are counted against it: once it is out, no more checks from it.
    const failures = await this.addresses.get(address);
    if (failures !== null && failures.consumedPoints >= this.addresses.points) throw this.refusal('address', failures);
    await this.consume(this.principals, scope, 'principal');
    return { address, claimed, charged: { budget: 'principal', scope } };
  }

  /** The credentials were not valid (or could not be checked): the request counts against its address. */
  async checkFailed(ticket: CheckTicket): Promise<void> {
    if (ticket.charged.budget === 'address') return;
    if (ticket.claimed !== undefined) this.known.delete(ticket.claimed);
    await this.principals.reward(ticket.charged.scope);
    await this.addresses.penalty(ticket.address);
  }

  /** The credentials are `scope`'s: the request counts against that principal only (429 when it is out). */
  async authenticated(ticket: CheckTicket, scope: string): Promise<void> {
    if (ticket.claimed !== undefined) this.remember(ticket.claimed, scope);
    if (ticket.charged.budget === 'principal' && ticket.charged.scope === scope) return;
    if (ticket.charged.budget === 'principal') await this.principals.reward(ticket.charged.scope);
    else await this.addresses.reward(ticket.address);
    await this.consume(this.principals, scope, 'principal');
  }

  private async consume(limiter: RateLimiterMemory, key: string, budget: Budget): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw this.refusal(budget, error);
      throw error;
    }
  }

  private refusal(budget: Budget, result: RateLimiterRes): ApiError {
    rate_limited_total.inc({ budget });
    return this.refusalError(budget, retryAfterSeconds(result));
  }

  private reshare(replicas: number): void {
    this.principals.points = replicaShare(this.config.RATE_LIMIT_PER_SECOND, replicas);
    this.addresses.points = replicaShare(this.config.RATE_LIMIT_UNAUTHENTICATED_PER_SECOND, replicas);
  }

  private knownScope(claimed: string): string | undefined {
    const entry = this.known.get(claimed);
    if (entry === undefined) return undefined;
    if (entry.until_ms > Date.now()) return entry.scope;
    this.known.delete(claimed);
    return undefined;
  }

  private remember(claimed: string, scope: string): void {
    this.known.delete(claimed);
    if (this.known.size >= known_credentials_max) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.set(claimed, { scope, until_ms: Date.now() + known_credential_ttl_ms });
  }
}
