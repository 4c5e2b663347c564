import { Injectable } from '@nestjs/common';
import { Sweeper, sweepInBatches } from '@paynet/platform';
import { AccountsService } from './accounts.service.js';

export const stream_token_sweep_interval_ms = 60_000;
const stream_token_sweep_batch_max = 1_000;
const stream_token_sweep_batches_max = 100;

/** Deletes holder stream tokens that expired a day ago, on every replica (SKIP LOCKED shares the work). */
@Injectable()
export class HolderStreamTokenSweeper extends Sweeper {
  constructor(private readonly accounts: AccountsService) {
    super('holder stream token sweep', stream_token_sweep_interval_ms);
  }

  sweepOnce(): Promise<number> {
    return sweepInBatches(
      () => this.accounts.deleteExpiredStreamTokens(stream_token_sweep_batch_max),
      { batch_max: stream_token_sweep_batch_max, batches_max: stream_token_sweep_batches_max },
      this.task,
    );
  }
}
