import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Sweeper, sweepInBatches } from '../bootstrap/periodic-task.js';
import { type BaseConfig, CONFIG } from '../config/config.js';

/** Rows deleted per statement: short transactions, no long lock on the table. */
export const idempotency_sweep_batch_max = 1_000;
/** Batches per pass; what is left waits for the next tick. */
export const idempotency_sweep_batches_max = 20;

/**
 * Deletes Idempotency-Key rows older than IDEMPOTENCY_RETENTION_SECONDS
 * (at least 24 h, API.md), on every service that has the table. A claim still
 * leased is left alone, however old: its request may yet complete it.
 * Replicas share the work with SKIP LOCKED.
 */
@Injectable()
export class IdempotencySweeper extends Sweeper {
  private readonly retention_seconds: number;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) config: BaseConfig,
  ) {
    super('idempotency key sweep', config.IDEMPOTENCY_SWEEP_INTERVAL_MS);
    this.retention_seconds = config.IDEMPOTENCY_RETENTION_SECONDS;
  }

  /** One pass: up to idempotency_sweep_batches_max batches; returns how many keys it deleted. */
  sweepOnce(): Promise<number> {
    return sweepInBatches(() => this.deleteBatch(), { batch_max: idempotency_sweep_batch_max, batches_max: idempotency_sweep_batches_max });
  }

  private async deleteBatch(): Promise<number> {
    const [, count] = (await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE (scope, key) IN (
         SELECT scope, key FROM idempotency_keys
         WHERE created_at < now() - make_interval(secs => $1)
           AND (state = 'done' OR locked_until < now())
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [this.retention_seconds, idempotency_sweep_batch_max],
    )) as [unknown, number];
    return count;
  }
}
