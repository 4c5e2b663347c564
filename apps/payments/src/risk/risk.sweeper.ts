import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, Sweeper, updateReturning } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../config.js';
import { velocity_window_seconds } from './risk-rules.js';

export const risk_sweep_batch_max = 1_000;
export const risk_sweep_batches_per_pass_max = 20;

/**
 * Keeps risk_admissions bounded: rows older than the velocity window no
 * longer count and are deleted, in bounded batches. Runs on every replica;
 * SKIP LOCKED shares the work.
 */
@Injectable()
export class RiskSweeper extends Sweeper {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) config: PaymentsConfig,
  ) {
    super('risk admissions sweep', config.RISK_SWEEP_INTERVAL_MS);
  }

  /** Deletes expired admissions until none are left or the pass's bound is reached; answers how many. */
  async sweepOnce(): Promise<number> {
    let deleted_total = 0;
    for (let batch = 0; batch < risk_sweep_batches_per_pass_max; batch++) {
      const deleted = await updateReturning<{ seq: string }>(
        this.dataSource.manager,
        `DELETE FROM risk_admissions WHERE seq IN (
           SELECT seq FROM risk_admissions WHERE admitted_at <= clock_timestamp() - make_interval(secs => $1)
           ORDER BY admitted_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING seq`,
        [velocity_window_seconds, risk_sweep_batch_max],
      );
      deleted_total += deleted.length;
      // A full batch means more may be waiting, unless shutdown has begun.
      if (deleted.length < risk_sweep_batch_max || this.task.stopping) break;
    }
    return deleted_total;
  }
}
