import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, Sweeper, sweepInBatches } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PushConfig } from '../config.js';

/** Events deleted per statement (with their deliveries): short transactions, no long lock on the tables. */
export const events_sweep_batch_max = 500;
/** Batches per pass; what is left waits for the next tick. */
export const events_sweep_batches_max = 20;

/**
 * API.md: events, and their webhook deliveries, are kept EVENT_RETENTION_DAYS
 * and then deleted. One statement per batch deletes the oldest events and
 * their deliveries together; replicas share the work with SKIP LOCKED.
 */
@Injectable()
export class EventsSweeper extends Sweeper {
  private readonly retention_days: number;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) config: PushConfig,
  ) {
    super('event retention sweep', config.EVENT_SWEEP_INTERVAL_MS);
    this.retention_days = config.EVENT_RETENTION_DAYS;
  }

  /** One pass: up to events_sweep_batches_max batches; returns how many events it deleted. */
  sweepOnce(): Promise<number> {
    return sweepInBatches(() => this.deleteBatch(), { batch_max: events_sweep_batch_max, batches_max: events_sweep_batches_max }, this.task);
  }

  private async deleteBatch(): Promise<number> {
    // received_at, not the event's own `created`: indexed, and never earlier, so an event is kept at least the retention.
    const [, count] = (await this.dataSource.query(
      `WITH old AS (
         SELECT id FROM events WHERE received_at < now() - make_interval(days => $1)
         ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), deliveries AS (
         DELETE FROM webhook_deliveries WHERE event_id IN (SELECT id FROM old)
       )
       DELETE FROM events WHERE id IN (SELECT id FROM old)`,
      [this.retention_days, events_sweep_batch_max],
    )) as [unknown, number];
    return count;
  }
}
