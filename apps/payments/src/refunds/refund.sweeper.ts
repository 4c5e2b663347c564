import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG, Sweeper } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../config.js';
import { findIntent, type PaymentIntentRow } from '../payment-intents/payment-intent.js';
import { refund_columns, type RefundRow } from './refund.js';
import { RefundsService } from './refunds.service.js';

/** Pending refunds re-sent per pass; each is one call to accounts. */
export const refund_sweep_batch_max = 100;
/** Past the request's own NATS timeout, so the sweep does not race a request still waiting for its answer. */
const settle_margin_seconds = 1;

/**
 * Settles refunds whose ledger answer was lost (the request timed out or
 * crashed after reserving): sends the same transfer (id = the refund id)
 * again; accounts answers `already_applied` if it had applied it, and the
 * refund is recorded once either way. The state it reads is the database,
 * so it also happens after a restart.
 */
@Injectable()
export class RefundSweeper extends Sweeper {
  private readonly logger = new Logger(RefundSweeper.name);
  private readonly settle_after_seconds: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly refunds: RefundsService,
    @Inject(CONFIG) config: PaymentsConfig,
  ) {
    super('refund sweep', config.REFUND_SWEEP_INTERVAL_MS);
    this.settle_after_seconds = Math.ceil(config.NATS_REQUEST_TIMEOUT_MS / 1000) + settle_margin_seconds;
  }

  /** Re-sends up to refund_sweep_batch_max stale pending refunds; answers how many were settled. */
  async sweepOnce(): Promise<number> {
    const rows: RefundRow[] = await this.dataSource.query(
      `SELECT ${refund_columns} FROM refunds WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)
       ORDER BY created_at LIMIT $2`,
      [this.settle_after_seconds, refund_sweep_batch_max],
    );
    let settled = 0;
    for (const refund of rows) {
      if (this.task.stopping) break;
      try {
        const intent = (await findIntent(this.dataSource.manager, refund.payment_intent_id, false)) as PaymentIntentRow;
        await this.refunds.settle(refund, intent, undefined);
        settled++;
      } catch (error) {
        // A refusal was recorded (the refund failed, its reservation released); anything else is tried again next pass.
        this.logger.warn({ err: error, refund: refund.id }, 'pending refund not settled');
      }
    }
    return settled;
  }
}
