import { Injectable } from '@nestjs/common';
import { Sweeper, sweepInBatches } from '@paynet/platform';
import { DataSource } from 'typeorm';

export const nonce_sweep_interval_ms = 60_000;
/** Nonces deleted per statement: short transactions, no long lock on the table. */
export const nonce_sweep_batch_max = 10_000;
/**
 * Batches per pass: a pass may delete a million nonces, what a minute of
 * 16,000 signed requests a second leaves behind, far beyond what one replica
 * serves. Should a pass still stop at the bound, the next one starts at once:
 * the table never grows for want of sweeping.
 */
export const nonce_sweep_batches_max = 100;
const nonce_sweep_pass_max = nonce_sweep_batch_max * nonce_sweep_batches_max;

/**
 * Deletes nonces past their window (they can no longer be replayed: their
 * timestamp would be refused) and stream tokens expired a day ago, on every
 * replica; replicas share the work with SKIP LOCKED.
 */
@Injectable()
export class NonceSweeper extends Sweeper {
  constructor(private readonly dataSource: DataSource) {
    super('nonce sweep', nonce_sweep_interval_ms);
  }

  /** One tick: passes one after another until a pass finds fewer than it may delete; returns how many nonces went. */
  async sweepOnce(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const pass = await this.sweepPass();
      deleted += pass;
      if (pass < nonce_sweep_pass_max || this.task.stopping) return deleted;
    }
  }

  /** One pass: up to nonce_sweep_batches_max batches of expired nonces, then old stream tokens; returns how many nonces it deleted. */
  async sweepPass(): Promise<number> {
    const deleted = await sweepInBatches(() => this.deleteBatch(), { batch_max: nonce_sweep_batch_max, batches_max: nonce_sweep_batches_max }, this.task);
    await this.dataSource.query(`DELETE FROM stream_tokens WHERE expires_at < now() - interval '1 day'`);
    return deleted;
  }

  private async deleteBatch(): Promise<number> {
    const [, count] = (await this.dataSource.query(
      `DELETE FROM request_nonces WHERE (api_key_id, nonce) IN (
         SELECT api_key_id, nonce FROM request_nonces WHERE expires_at < now()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [nonce_sweep_batch_max],
    )) as [unknown, number];
    return count;
  }
}
