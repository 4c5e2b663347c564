import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ApiError, credentialCacheSubject, type NatsNames } from '@paynet/contracts';
import { LRUCache } from 'lru-cache';
import { Counter } from 'prom-client';
import { registry } from '../observability/metrics.js';
import { NATS_CONNECTION, NATS_NAMES } from '../nats/nats-connection.js';
import { REPLICA_CENSUS_SERVICE, ReplicaCensus } from '../rate-limits/replica-census.js';

/** The safety net: an entry is never used longer than this after the read that made it began. */
export const credential_cache_ttl_ms = 60_000;
/** Entries kept; past it the least recently used go first. */
export const credential_cache_entries_max = 50_000;
/** How often a replica proves it hears the bus (a PING round trip to nats-server). */
export const hearing_renew_interval_ms = 500;
/** A replica uses its cache only while a proof sent less than this long ago came back. */
export const hearing_lease_ms = 1_500;
/** Added to the lease when a changing replica waits one out: clocks tick at slightly different rates. */
export const hearing_lease_slack_ms = 250;
/** Between two attempts to get an invalidation to nats-server. */
export const invalidation_retry_ms = 250;

export const credential_cache_lookups_total = new Counter({
  name: 'paynet_credential_cache_lookups_total',
  help: 'Credential checks by kind (credential: API keys, holder tokens; webhook_signing: webhook endpoints\' secrets) and where the answer came from: hit (the cache), miss (read, then kept if it verified), bypass (read: this replica could not prove it hears invalidations)',
  labelNames: ['kind', 'result'],
  registers: [registry],
});

/** The kind of the API keys and holder tokens: its invalidations carry no `kind` (the format from before kinds). */
export const default_credential_kind = 'credential';

/** A check's answer and, when the credential ends by itself, when (epoch ms): it is not kept past a second before that. */
export interface Verified<V> {
  value: V;
  until_ms?: number;
}

/** One kind of cached credential (CredentialCache.kind): its own store, the cache's lease and invalidation. */
export interface CredentialKind<V> {
  /** The kept answer for `key`, or `load()`'s full check (kept when it verified). */
  lookup(key: string, load: () => Promise<Verified<V> | undefined>): Promise<V | undefined>;
  /** The kept answers for `keys`, the missing ones read by one `load` (CredentialStore.getMany). */
  lookupMany(keys: readonly string[], load: (missing: string[]) => Promise<ReadonlyMap<string, Verified<V>>>): Promise<Map<string, V>>;
  /** Before a change commits: 503 (nothing changed) when this replica cannot tell the others now. */
  assertCanInvalidate(): void;
  /** After the change committed: answers once no replica can answer what `keys` were from its cache. */
  invalidate(keys: readonly string[], committed_at_ms: number): Promise<void>;
}

/** A clock for the entries' ages (tests pass their own). */
export interface CacheClock {
  now(): number;
}

export interface CredentialStoreOptions {
  max_entries: number;
  ttl_ms: number;
  clock?: CacheClock;
  /** The metric's `kind` label. */
  kind?: string;
}

/** How far before a credential's own end its entry goes: our clock and the database's may differ a little. */
const own_end_margin_ms = 1_000;

/**
 * Pure part of the cache: verified credentials by key (an API key id, a
 * token's hash), bounded (LRU) and aged (TTL counted from when the read that
 * made the entry began). Used only while `hearing()` says invalidations
 * reach this replica; a failed check (`load` answers undefined or throws) is
 * never kept. A read that an invalidation overtook is not kept either: the
 * generation moved while it ran.
 */
export class CredentialStore<V> {
  private readonly entries: LRUCache<string, { value: V }>;
  private readonly clock: CacheClock;
  private generation = 0;
  /** The metric's series of this store's kind, bound once (a lookup is on every authenticated request). */
  private readonly lookups: Record<'hit' | 'miss' | 'bypass', { inc(by?: number): void }>;

  constructor(
    private readonly options: CredentialStoreOptions,
    private readonly hearing: () => boolean,
  ) {
    this.clock = options.clock ?? performance;
    const kind = options.kind ?? default_credential_kind;
    this.lookups = {
      hit: credential_cache_lookups_total.labels(kind, 'hit'),
      miss: credential_cache_lookups_total.labels(kind, 'miss'),
      bypass: credential_cache_lookups_total.labels(kind, 'bypass'),
    };
    this.entries = new LRUCache({ max: options.max_entries, ttl: options.ttl_ms, ttlResolution: 0, perf: this.clock });
  }

  get size(): number {
    return this.entries.size;
  }

  /** The kept answer for `key`, or `load()`'s (a full check), kept when it verified and nothing changed meanwhile. */
  async get(key: string, load: () => Promise<Verified<V> | undefined>): Promise<V | undefined> {
    const hearing = this.hearing();
    if (hearing) {
      const hit = this.entries.get(key);
      if (hit) {
        this.count('hit');
        return hit.value;
      }
    }
    this.count(hearing ? 'miss' : 'bypass');
    const generation = this.generation;
    const started_ms = this.clock.now();
    const verified = await load();
    if (verified === undefined) return undefined;
    if (generation === this.generation && this.hearing()) this.keep(key, verified, started_ms);
    return verified.value;
  }

  /**
   * The kept answers for `keys`, and `load(missing)`'s for the others, read
   * together (one statement for a batch); kept as `get` keeps them. A key
   * `load` answers nothing for is absent from the answer and never kept.
   */
  async getMany(keys: readonly string[], load: (missing: string[]) => Promise<ReadonlyMap<string, Verified<V>>>): Promise<Map<string, V>> {
    const hearing = this.hearing();
    const found = new Map<string, V>();
    const missing: string[] = [];
    for (const key of new Set(keys)) {
      const hit = hearing ? this.entries.get(key) : undefined;
      if (hit) found.set(key, hit.value);
      else missing.push(key);
    }
    if (found.size > 0) this.count('hit', found.size);
    if (missing.length === 0) return found;
    this.count(hearing ? 'miss' : 'bypass', missing.length);
    const generation = this.generation;
    const started_ms = this.clock.now();
    const verified = await load(missing);
    const keeping = generation === this.generation && this.hearing();
    for (const key of missing) {
      const answer = verified.get(key);
      if (answer === undefined) continue;
      found.set(key, answer.value);
      if (keeping) this.keep(key, answer, started_ms);
    }
    return found;
  }

  /** These keys changed: gone now, and reads already running are not kept. */
  drop(keys: readonly string[]): void {
    this.generation += 1;
    for (const key of keys) this.entries.delete(key);
  }

  /** Everything goes (this replica may have missed an invalidation). */
  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }

  /** No longer than the TTL from when its read began, nor than a second before the credential's own end. */
  private keep(key: string, verified: Verified<V>, started_ms: number): void {
    const own_end_ms = verified.until_ms === undefined ? Infinity : verified.until_ms - own_end_margin_ms - Date.now();
    const ttl_ms = Math.floor(Math.min(this.options.ttl_ms - (this.clock.now() - started_ms), own_end_ms));
    if (ttl_ms >= 1) this.entries.set(key, { value: verified.value }, { ttl: ttl_ms });
  }

  private count(result: 'hit' | 'miss' | 'bypass', by = 1): void {
    this.lookups[result].inc(by);
  }
}

interface Invalidation {
  keys: string[];
  /** Absent for the default kind (API keys, holder tokens), as sent before there were kinds. */
  kind?: string;
}

interface Acknowledgement {
  replica: string;
}

/**
 * Pure: whether a changing replica may answer. Every replica it heard of
 * while waiting (the census, taken at each look: a replica that joined is
 * included) acknowledged, or the lease of any that did not has surely run out
 * (`lease_ends_ms`, counted from when nats-server had the invalidation).
 */
export function invalidationSettled(state: { members: ReadonlySet<string>; acknowledged: ReadonlySet<string>; now_ms: number; lease_ends_ms: number }): boolean {
  if (state.now_ms >= state.lease_ends_ms) return true;
  for (const member of state.members) if (!state.acknowledged.has(member)) return false;
  return true;
}

/**
 * Verified credentials kept in memory, so a signed request or a holder's
 * bearer token is not read from PostgreSQL every time, with revocation still
 * "at once" across replicas (docs/SECURITY.md, "Cache of verified
 * credentials"). API keys and holder tokens are the default kind (`lookup`);
 * another kind (merchants' webhook signing keys) gets a store of its own
 * from `kind()`, with the same lease and invalidations naming the kind.
 *
 * - A replica uses its cache only while it hears the bus: its NATS
 *   connection is up, its subscription to `<service>.credentials.invalidate`
 *   is open, and a PING it sent less than `hearing_lease_ms` ago came back
 *   (nats-server answers a PING after everything it had for this connection,
 *   so an invalidation published before can no longer be pending). A
 *   disconnect clears the cache; without a fresh proof every check is full.
 *   And only once a census heartbeat it sent on this connection has come
 *   back: before that, the other replicas may not count it yet, and a
 *   change made through one of them would not wait for its acknowledgement.
 * - A change commits first, then `invalidate()` drops the keys here,
 *   publishes them and waits for an acknowledgement from every replica in
 *   the census (ReplicaCensus). One that does not answer is waited out: once
 *   nats-server had the invalidation, a replica that did not process it holds
 *   no proof newer than that, so `hearing_lease_ms` (plus slack) later it has
 *   stopped using its cache.
 */
@Injectable()
export class CredentialCache implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(CredentialCache.name);
  /** One store per kind, so keys of different kinds never meet (a client's X-Api-Key is looked up as sent). */
  private readonly stores = new Map<string, CredentialStore<unknown>>([[default_credential_kind, this.newStore(default_credential_kind, credential_cache_entries_max)]]);
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the last proof that came back was sent (performance.now()); 0: none on this connection. */
  private proof_sent_ms = 0;
  private proving = false;
  /** Moves at every disconnect and reconnect: a proof started on an earlier connection proves nothing. */
  private connection_epoch = 0;
  private connected = true;
  /** Since when this connection is up: until a heartbeat sent on it has come back, the others may not count this replica in their census, and would not wait for it. */
  private connected_since_ms = Date.now();
  private stopped = false;
  private was_hearing = false;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
    @Inject(REPLICA_CENSUS_SERVICE) private readonly service: string,
    private readonly census: ReplicaCensus,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.nats.subscribe(this.subject, { callback: (error, message) => this.heard(error, message) });
    void this.watchConnection();
    this.prove();
    this.timer = setInterval(() => this.prove(), hearing_renew_interval_ms);
    this.timer.unref();
  }

  /** Before the census says this replica leaves (beforeApplicationShutdown): nobody waits for it from then on. */
  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.clearAll();
    this.subscription?.unsubscribe();
  }

  /** Whether invalidations reach this replica now (see the class comment); losing it clears the cache. */
  hearing(): boolean {
    const hearing =
      !this.stopped &&
      this.connected &&
      !this.nats.isClosed() &&
      this.subscription !== undefined &&
      !this.subscription.isClosed() &&
      performance.now() - this.proof_sent_ms < hearing_lease_ms &&
      this.census.own_heartbeat_returned_ms > this.connected_since_ms;
    if (this.was_hearing && !hearing) this.clearAll();
    this.was_hearing = hearing;
    return hearing;
  }

  /** The kept answer for `key`, or `load()`'s full check (kept when it verified). */
  lookup<V>(key: string, load: () => Promise<Verified<V> | undefined>): Promise<V | undefined> {
    return this.storeOf(default_credential_kind).get(key, load) as Promise<V | undefined>;
  }

  /**
   * Another kind of credential, in a store of its own (its own bound; its
   * keys never meet another kind's), under the same lease and invalidated
   * the same way: its invalidations name the kind. Once per kind.
   */
  kind<V>(name: string, options: { max_entries: number }): CredentialKind<V> {
    if (this.stores.has(name)) throw new Error(`credential cache kind '${name}' is registered already`);
    if (!(options.max_entries >= 1)) throw new Error(`credential cache kind '${name}' needs max_entries >= 1`);
    const store = this.newStore(name, options.max_entries) as CredentialStore<V>;
    this.stores.set(name, store as CredentialStore<unknown>);
    return {
      lookup: (key, load) => store.get(key, load),
      lookupMany: (keys, load) => store.getMany(keys, load),
      assertCanInvalidate: () => this.assertCanInvalidate(),
      invalidate: (keys, committed_at_ms) => this.invalidate(keys, committed_at_ms, name),
    };
  }

  /**
   * Before a change to credentials commits: 503 (nothing changed) when this
   * replica cannot tell the others now, rather than commit a change it then
   * cannot confirm.
   */
  assertCanInvalidate(): void {
    if (!this.hearing()) throw ApiError.unavailable('Cannot reach the other replicas to revoke cached credentials now; nothing was changed. Try again.');
  }

  /**
   * After a change to credentials committed (`committed_at_ms`: Date.now()
   * taken after the commit): answers once no replica can accept what `keys`
   * were before the change from its cache (see the class comment). If the
   * invalidation cannot reach nats-server at all, it answers when every
   * entry made before the commit has aged out (the TTL).
   */
  async invalidate(keys: readonly string[], committed_at_ms: number, kind = default_credential_kind): Promise<void> {
    if (keys.length === 0) return;
    this.storeOf(kind).drop(keys);
    const invalidation: Invalidation = kind === default_credential_kind ? { keys: [...keys] } : { keys: [...keys], kind };
    const give_up_at_ms = committed_at_ms + credential_cache_ttl_ms;
    const acknowledged = new Set<string>([this.census.replica]);
    const members = new Set<string>(this.census.members());
    const inbox = createInbox(this.names.inboxPrefix(this.service));
    let settle: (() => void) | undefined;
    const replies = this.nats.subscribe(inbox, {
      callback: (error, message) => {
        if (error) return;
        const replica = parseAcknowledgement(message);
        if (replica !== undefined) acknowledged.add(replica);
        settle?.();
      },
    });
    try {
      for (;;) {
        try {
          this.nats.publish(this.subject, JSON.stringify(invalidation), { reply: inbox });
          await withTimeout(this.nats.flush(), Math.max(give_up_at_ms - Date.now(), 1));
          break;
        } catch (error) {
          if (Date.now() >= give_up_at_ms) {
            this.logger.error({ err: error, subject: this.subject }, 'could not broadcast a credential invalidation; answered once the cache TTL passed');
            return;
          }
          await sleep(invalidation_retry_ms);
        }
      }
      const lease_ends_ms = performance.now() + hearing_lease_ms + hearing_lease_slack_ms;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => check(), lease_ends_ms - performance.now());
        const check = () => {
          for (const member of this.census.members()) members.add(member);
          if (!invalidationSettled({ members, acknowledged, now_ms: performance.now(), lease_ends_ms })) return;
          clearTimeout(timer);
          resolve();
        };
        settle = check;
        check();
      });
      const missing = [...members].filter((member) => !acknowledged.has(member));
      if (missing.length > 0) this.logger.warn({ missing, subject: this.subject }, 'replicas did not acknowledge a credential invalidation; waited out their lease');
    } finally {
      replies.unsubscribe();
    }
  }

  private newStore(kind: string, max_entries: number): CredentialStore<unknown> {
    return new CredentialStore<unknown>({ max_entries, ttl_ms: credential_cache_ttl_ms, kind }, () => this.hearing());
  }

  private storeOf(kind: string): CredentialStore<unknown> {
    const store = this.stores.get(kind);
    if (store === undefined) throw new Error(`credential cache kind '${kind}' is not registered`);
    return store;
  }

  private clearAll(): void {
    for (const store of this.stores.values()) store.clear();
  }

  private get subject(): string {
    return this.names.request(credentialCacheSubject(this.service));
  }

  private heard(error: Error | null, message: Msg): void {
    if (error) {
      this.logger.warn({ err: error }, 'credential invalidation subscription error');
      this.clearAll();
      return;
    }
    let invalidation: Invalidation | undefined;
    try {
      invalidation = parseInvalidation(message.json());
    } catch {
      invalidation = undefined;
    }
    // Anything on the subject we cannot read: drop everything rather than guess. A kind this replica
    // does not keep has nothing here to drop; it acknowledges all the same.
    if (invalidation) this.stores.get(invalidation.kind ?? default_credential_kind)?.drop(invalidation.keys);
    else this.clearAll();
    if (!message.reply) return;
    try {
      message.respond(JSON.stringify({ replica: this.census.replica } satisfies Acknowledgement));
    } catch (respond_error) {
      this.logger.debug({ err: respond_error }, 'could not acknowledge a credential invalidation');
    }
  }

  /** A PING round trip; when it comes back on the same connection, the lease counts from when it was sent. */
  private prove(): void {
    if (this.proving || this.stopped || this.nats.isClosed()) return;
    this.proving = true;
    const epoch = this.connection_epoch;
    const sent_ms = performance.now();
    this.nats
      .flush()
      .then(() => {
        if (epoch === this.connection_epoch && this.connected) this.proof_sent_ms = Math.max(this.proof_sent_ms, sent_ms);
      })
      .catch(() => undefined)
      .finally(() => {
        this.proving = false;
      });
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.nats.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'staleConnection' || status.type === 'forceReconnect') {
        // Whatever was published meanwhile is lost to this replica (core NATS): forget everything, prove again.
        this.connection_epoch += 1;
        this.proof_sent_ms = 0;
        this.connected = status.type === 'reconnect';
        this.connected_since_ms = Date.now();
        this.clearAll();
        if (this.connected) this.prove();
      }
    }
  }
}

/** Pure: an invalidation as sent, or undefined. */
export function parseInvalidation(data: unknown): Invalidation | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { keys, kind } = data as Record<string, unknown>;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) return undefined;
  if (kind === undefined) return { keys: keys as string[] };
  if (typeof kind !== 'string') return undefined;
  return { keys: keys as string[], kind };
}

function parseAcknowledgement(message: Msg): string | undefined {
  try {
    const { replica } = message.json<Partial<Acknowledgement>>();
    return typeof replica === 'string' ? replica : undefined;
  } catch {
    return undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, timeout_ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), timeout_ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
