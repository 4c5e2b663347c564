import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Broadcasts, type NatsNames } from '@paynet/contracts';
import { NATS_CONNECTION, NATS_NAMES, subscribeMerchantChanges } from '@paynet/platform';

/**
 * A safety net, not the mechanism: an invalidation lost (core NATS is at
 * most once, e.g. across a reconnect) is corrected after this long.
 */
export const merchant_cache_ttl_ms = 30_000;
/** Entries kept; past it the oldest go first. */
export const merchant_cache_entries_max = 10_000;
/** Every merchants replica hears it (no queue group). */
export const merchant_changed_pattern = Broadcasts.merchantsChanged;

interface Entry<T> {
  value: T;
  until_ms: number;
}

/**
 * Merchant rows by id, read on every signed request (its principal), every
 * event push records (its webhook URL) and every webhook it signs: about five
 * reads of the same row per payment, for a row that changes only when its
 * webhook URL does. A change drops the entry here at once and on every other
 * replica through `merchants.merchants.changed`; a read that raced a change
 * is not kept (the generation moved while it ran).
 */
@Injectable()
export class MerchantCache<T = unknown> implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(MerchantCache.name);
  private readonly entries = new Map<string, Entry<T>>();
  private generation = 0;
  private subscription: Subscription | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = subscribeMerchantChanges(this.nats, this.names, this.logger, (id) => this.drop(id));
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.drain().catch(() => undefined);
  }

  /** The cached value, or `load()`'s (kept unless a change arrived while it ran; absent ones are not kept). */
  async get(id: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const entry = this.entries.get(id);
    if (entry && entry.until_ms > Date.now()) return entry.value;
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && generation === this.generation) this.keep(id, value);
    return value;
  }

  /** After a change of merchant `id` committed: dropped here now, and on the other replicas as soon as they hear it. */
  changed(id: string): void {
    this.drop(id);
    this.nats.publish(this.names.request(merchant_changed_pattern), JSON.stringify({ merchant_id: id }));
  }

  private drop(id: string): void {
    this.generation += 1;
    this.entries.delete(id);
  }

  private keep(id: string, value: T): void {
    if (this.entries.size >= merchant_cache_entries_max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, { value, until_ms: Date.now() + merchant_cache_ttl_ms });
  }
}
