import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { type NatsNames, replicaCensusSubject } from '@paynet/contracts';
import { randomUUID } from 'node:crypto';
import { NATS_CONNECTION, NATS_NAMES } from '../nats/nats-connection.js';
import { subscribeParsed } from '../nats/subscribe-parsed.js';
import { rate_limit_replicas } from './rate-limit.metrics.js';

/** How often a replica says it is alive. */
export const census_heartbeat_interval_ms = 1_000;
/** A peer not heard for this many of our own heartbeats is gone (a crash; a clean stop says so at once). */
export const census_missed_heartbeats_max = 3;

export const REPLICA_CENSUS_SERVICE = Symbol('REPLICA_CENSUS_SERVICE');

interface Heartbeat {
  replica: string;
  leaving?: boolean;
}

/** Pure: a heartbeat of ours or a peer's, or undefined for anything else on the subject. */
export function parseHeartbeat(data: unknown): Heartbeat | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { replica, leaving } = data as Record<string, unknown>;
  if (typeof replica !== 'string' || replica.length === 0 || replica.length > 64) return undefined;
  return { replica, leaving: leaving === true };
}

/**
 * How many replicas of this service are alive, learnt over NATS without a
 * round trip per request: every replica publishes a heartbeat each second on
 * `<service>.replicas.heartbeat` and hears everyone's (its own included). A
 * new replica is answered at once by every peer that hears it, so it knows
 * them within a round trip; a stopping replica says so; a crashed one drops
 * out after three missed heartbeats. Peers are aged against the last time this
 * replica heard itself: while the bus is down nobody is dropped, so a partition
 * keeps the last count instead of letting every replica admit the whole budget.
 */
@Injectable()
export class ReplicaCensus implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ReplicaCensus.name);
  readonly replica = randomUUID();
  /** Peers (self included) and when each was last heard, in our clock. */
  private readonly heard = new Map<string, number>();
  private own_heard_at_ms = Date.now();
  /** When this replica last heard its own heartbeat come back (0: not yet): the others, subscribed to the same subject, have had it too. */
  own_heartbeat_returned_ms = 0;
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((replicas: number) => void)[] = [];
  private count = 1;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
    @Inject(REPLICA_CENSUS_SERVICE) private readonly service: string,
  ) {
    this.heard.set(this.replica, this.own_heard_at_ms);
  }

  /** Live replicas of this service, this one included: at least 1. */
  get replicas(): number {
    return this.count;
  }

  /** The replicas heard now, by id (this one included): whom a credential cache invalidation waits for (CredentialCache). */
  members(): string[] {
    return [...this.heard.keys()];
  }

  /** Called with the new count whenever it changes. */
  onChange(listener: (replicas: number) => void): void {
    this.listeners.push(listener);
  }

  onApplicationBootstrap(): void {
    this.subscription = subscribeParsed(this.nats, this.subject, 'replica census heartbeat', this.logger, parseHeartbeat, (heartbeat) => this.hear(heartbeat));
    this.beat();
    this.timer = setInterval(() => this.beat(), census_heartbeat_interval_ms);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.publish({ replica: this.replica, leaving: true });
    await this.subscription?.drain().catch(() => undefined);
  }

  private get subject(): string {
    return this.names.request(replicaCensusSubject(this.service));
  }

  private beat(): void {
    this.publish({ replica: this.replica });
    this.expire();
  }

  private publish(heartbeat: Heartbeat): void {
    if (this.nats.isClosed() || this.nats.isDraining()) return;
    try {
      this.nats.publish(this.subject, JSON.stringify(heartbeat));
    } catch (error) {
      this.logger.debug({ err: error }, 'could not publish a heartbeat');
    }
  }

  private hear({ replica, leaving }: Heartbeat): void {
    const now_ms = Date.now();
    if (replica === this.replica) {
      this.own_heard_at_ms = now_ms;
      this.own_heartbeat_returned_ms = now_ms;
      this.heard.set(replica, now_ms);
      return;
    }
    if (leaving) {
      this.heard.delete(replica);
    } else {
      const is_new = !this.heard.has(replica);
      this.heard.set(replica, now_ms);
      // A newcomer learns of us now rather than at our next beat.
      if (is_new) this.publish({ replica: this.replica });
    }
    this.recount();
  }

  private expire(): void {
    const oldest_ms = this.own_heard_at_ms - census_missed_heartbeats_max * census_heartbeat_interval_ms;
    for (const [replica, heard_at_ms] of this.heard) {
      if (replica !== this.replica && heard_at_ms < oldest_ms) this.heard.delete(replica);
    }
    this.recount();
  }

  private recount(): void {
    const count = Math.max(this.heard.size, 1);
    if (count === this.count) return;
    this.count = count;
    rate_limit_replicas.set(count);
    for (const listener of this.listeners) listener(count);
  }
}
