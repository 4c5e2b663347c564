import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CONFIG } from '@paynet/platform';
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
export class HoldSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(HoldSweeper.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly holds: HoldsService,
    @Inject(CONFIG) private readonly config: AccountsConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'hold expiry sweep failed'))
        .finally(() => (this.running = undefined));
    }, this.config.HOLD_SWEEP_INTERVAL_MS);
  }

  /** Before the database closes: no new sweep, and the one running finishes. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Voids expired holds, batch by batch, until a batch comes back short or the tick's bound is reached. */
  async sweep(): Promise<number> {
    let voided = 0;
    for (let batch = 0; batch < hold_sweep_batches_per_tick_max; batch++) {
      const count = await this.holds.voidExpired(hold_sweep_batch_max);
      voided += count;
      if (count < hold_sweep_batch_max || this.timer === undefined) break;
    }
    return voided;
  }
}
