import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CONFIG, OutboxWriter, updateReturning, withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../config.js';
import { intent_columns, intentEvent, mapPaymentIntent, type PaymentIntentRow } from './payment-intent.js';

export const expiry_batch_max = 500;

/**
 * Writes down what readers already see: intents past expires_at become
 * canceled (expired) with their payment_intent.canceled event. Runs on every
 * replica; SKIP LOCKED shares the work; it survives restarts because the
 * state it reads is the database.
 */
@Injectable()
export class ExpirySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ExpirySweeper.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxWriter,
    @Inject(CONFIG) private readonly config: PaymentsConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweepOnce()
        .catch((error) => this.logger.warn({ err: error }, 'expiry sweep failed'))
        .finally(() => (this.running = undefined));
    }, this.config.EXPIRY_SWEEP_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async sweepOnce(): Promise<number> {
    return withTransaction(this.dataSource, async (manager) => {
      const rows = await updateReturning<PaymentIntentRow>(
        manager,
        `UPDATE payment_intents SET status = 'canceled', cancellation_reason = 'expired'
         WHERE id IN (SELECT id FROM payment_intents WHERE status = 'requires_payment' AND expires_at <= now()
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
