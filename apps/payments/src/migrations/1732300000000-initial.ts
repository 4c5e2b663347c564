import { idempotency_table_sql, outbox_table_sql } from '@paynet/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1732300000000 implements MigrationInterface {
  name = 'Initial1732300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE payment_intents (
        seq                 bigserial   NOT NULL UNIQUE,
        id                  text        PRIMARY KEY,
        merchant_id         text        NOT NULL,
        merchant_name       text        NOT NULL,
        merchant_account_id text        NOT NULL,
        fee_bps             integer     NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
        amount              bigint      NOT NULL CHECK (amount > 0 AND amount <= 1000000000000),
        currency            char(3)     NOT NULL,
        reference           text        NOT NULL,
        description         text,
        capture_method      text        NOT NULL CHECK (capture_method IN ('automatic', 'manual')),
        status              text        NOT NULL CHECK (status IN ('requires_payment', 'processing', 'requires_capture', 'succeeded', 'canceled')),
        amount_received     bigint      NOT NULL DEFAULT 0,
        amount_refunded     bigint      NOT NULL DEFAULT 0,
        payer_account       text,
        last_payment_error  jsonb,
        cancellation_reason text        CHECK (cancellation_reason IN ('requested_by_merchant', 'expired')),
        attempt             integer     NOT NULL DEFAULT 0,
        created_at          timestamptz NOT NULL DEFAULT now(),
        expires_at          timestamptz NOT NULL,
        CHECK (amount_received >= 0 AND amount_received <= amount),
        CHECK (amount_refunded >= 0 AND amount_refunded <= amount_received),
        CHECK ((status = 'canceled') = (cancellation_reason IS NOT NULL))
      );
      CREATE INDEX payment_intents_by_merchant ON payment_intents (merchant_id, seq DESC);
      CREATE INDEX payment_intents_expiring ON payment_intents (expires_at) WHERE status = 'requires_payment';
    `);
    await runner.query(idempotency_table_sql);
    await runner.query(outbox_table_sql);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE outbox, idempotency_keys, payment_intents');
  }
}
