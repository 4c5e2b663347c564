import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, Sweeper } from '@paynet/platform';
import type { AccountsConfig } from '../config.js';
import { HoldsService } from './holds.service.js';

/** Holds voided per transaction; a longer backlog is worked off at the same pace, batch after batch. */
export const hold_sweep_batch_max = 100;
/** Batches per tick at most, so one tick ends even under a flood of expiries. */
export const hold_sweep_batches_per_tick_max = 10;

/**
 * Releases the money of expired holds even if nobody asks: every
 * HOLD_SWEEP_INTERVAL_MS, voids pending holds past expires_at. Runs on every
 * replica; `FOR UPDATE SKIP LOCKED` shares the work, and the state it reads
 * is the database, so a restart loses nothing. Until it runs, a post of an
 * expired hold is already refused (hold_expired).
 */
@Injectable()
export class HoldSweeper extends Sweeper {
  constructor(
    private readonly holds: HoldsService,
    @Inject(CONFIG) config: AccountsConfig,
  ) {
    super('hold expiry sweep', config.HOLD_SWEEP_INTERVAL_MS);
  }

  /** Voids expired holds, batch by batch, until a batch comes back short or the tick's bound is reached. */
  async sweepOnce(): Promise<number> {
    let voided = 0;
    for (let batch = 0; batch < hold_sweep_batches_per_tick_max; batch++) {
      const count = await this.holds.voidExpired(hold_sweep_batch_max);
      voided += count;
      if (count < hold_sweep_batch_max || this.task.stopping) break;
    }
    return voided;
  }
}
