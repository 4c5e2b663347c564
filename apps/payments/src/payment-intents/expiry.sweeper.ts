import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, OutboxWriter, Sweeper, updateReturning, withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../config.js';
import { intent_columns, intentEvent, mapPaymentIntent, type PaymentIntentRow } from './payment-intent.js';
import { statusGuard } from './transitions.js';

export const expiry_batch_max = 500;

/**
 * Writes down what readers already see: intents past expires_at become
 * canceled (expired) with their payment_intent.canceled event. Runs on every
 * replica; SKIP LOCKED shares the work; it survives restarts because the
 * state it reads is the database.
 */
@Injectable()
export class ExpirySweeper extends Sweeper {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    @Inject(CONFIG) config: PaymentsConfig,
  ) {
    super('payment intent expiry sweep', config.EXPIRY_SWEEP_INTERVAL_MS);
  }

  async sweepOnce(): Promise<number> {
    return withTransaction(this.dataSource, async (manager) => {
      const rows = await updateReturning<PaymentIntentRow>(
        manager,
        `UPDATE payment_intents SET status = 'canceled', cancellation_reason = 'expired'
         WHERE id IN (SELECT id FROM payment_intents WHERE ${statusGuard('expire')} AND expires_at <= now()
                      ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING ${intent_columns}`,
        [expiry_batch_max],
      );
      if (rows.length > 0) {
        await this.outbox.add(manager, rows.map((row) => intentEvent('payment_intent.canceled', mapPaymentIntent(row), null)));
      }
      return rows.length;
    });
  }
}
