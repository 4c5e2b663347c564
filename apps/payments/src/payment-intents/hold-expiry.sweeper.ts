import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONFIG, Sweeper, updateReturning, withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../config.js';
import { CaptureService } from './capture.service.js';
import { intent_columns, type PaymentIntentRow } from './payment-intent.js';
import { statusGuard } from './transitions.js';

/** Expired holds settled per pass; each is one call to accounts, so a backlog is worked off pass after pass. */
export const hold_expiry_batch_max = 100;

/**
 * Releases the payer's money when a manual-capture intent is not captured in
 * time (HOLD_TTL_SECONDS after the pay): the intent becomes canceled
 * (expired) once its hold is voided, with its payment_intent.canceled event.
 * A capture or cancel sent before expiry whose answer was lost is sent again
 * instead, so its own outcome decides (accounts posts a hold only before its
 * expires_at, and answers a repeated post or void `already_applied`).
 *
 * The work is written down first (`void_reason = 'expired'`, committed), then
 * sent: a crash or a timeout in between leaves a row the next pass, on any
 * replica, sends again. Runs on every replica; SKIP LOCKED shares a pass.
 */
@Injectable()
export class HoldExpirySweeper extends Sweeper {
  private readonly logger = new Logger(HoldExpirySweeper.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly capture: CaptureService,
    @Inject(CONFIG) config: PaymentsConfig,
  ) {
    super('hold expiry sweep', config.EXPIRY_SWEEP_INTERVAL_MS);
  }

  /** Settles up to hold_expiry_batch_max expired holds; answers how many were settled. */
  async sweepOnce(): Promise<number> {
    const rows = await withTransaction(this.dataSource, (manager) =>
      updateReturning<PaymentIntentRow>(
        manager,
        `UPDATE payment_intents SET void_reason = CASE WHEN capture_amount IS NULL THEN coalesce(void_reason, 'expired') END
         WHERE id IN (SELECT id FROM payment_intents WHERE ${statusGuard('void')} AND hold_expires_at <= now()
                      ORDER BY hold_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING ${intent_columns}`,
        [hold_expiry_batch_max],
      ),
    );
    let settled = 0;
    for (const row of rows) {
      if (this.task.stopping) break;
      try {
        await this.capture.settleHold(row, undefined);
        settled++;
      } catch (error) {
        // Left as written down: the next pass sends it again.
        this.logger.warn({ err: error, payment_intent: row.id }, 'expired hold not settled yet');
      }
    }
    return settled;
  }
}
