import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Manual capture and refunds. Each step that calls accounts first writes down
 * what it is about to send, so a lost answer is settled by sending the very
 * same command again (rebuilt from these columns):
 *
 * - `hold_expires_at`: the hold's expiry, fixed at pay (`<intent>:hold:<attempt>`);
 * - `capture_amount`: a capture was sent for this amount (the hold's post);
 * - `void_reason`: a void of the hold was sent; it becomes `cancellation_reason`;
 * - `amount_refund_reserved`: refunds sent whose outcome is not recorded yet,
 *   so concurrent refunds never promise more than `amount_received`.
 *
 * A refund row is written (pending) before its transfer (id = the refund id)
 * is sent, with the merchant's Idempotency-Key: a retry of a refund whose
 * answer was lost finds it and re-sends the same transfer. `failure` keeps the
 * error envelope of a refund accounts refused.
 */
export class HoldsAndRefunds1733000000000 implements MigrationInterface {
  name = 'HoldsAndRefunds1733000000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE payment_intents
        ADD COLUMN hold_expires_at        timestamptz,
        ADD COLUMN capture_amount         bigint CHECK (capture_amount > 0 AND capture_amount <= amount),
        ADD COLUMN void_reason            text   CHECK (void_reason IN ('requested_by_merchant', 'expired')),
        ADD COLUMN amount_refund_reserved bigint NOT NULL DEFAULT 0 CHECK (amount_refund_reserved >= 0),
        ADD CHECK (capture_amount IS NULL OR void_reason IS NULL),
        ADD CHECK (amount_refunded + amount_refund_reserved <= amount_received),
        ADD CHECK ((hold_expires_at IS NULL) OR capture_method = 'manual');
      CREATE INDEX payment_intents_holds_expiring ON payment_intents (hold_expires_at) WHERE status = 'requires_capture';

      CREATE TABLE refunds (
        seq               bigserial   NOT NULL UNIQUE,
        id                text        PRIMARY KEY,
        payment_intent_id text        NOT NULL REFERENCES payment_intents (id),
        merchant_id       text        NOT NULL,
        idempotency_key   text        NOT NULL,
        amount            bigint      NOT NULL CHECK (amount > 0 AND amount <= 1000000000000),
        reason            text,
        status            text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        failure           jsonb,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        UNIQUE (merchant_id, idempotency_key),
        CHECK ((status = 'failed') = (failure IS NOT NULL))
      );
      CREATE INDEX refunds_by_payment_intent ON refunds (payment_intent_id);
      CREATE INDEX refunds_pending ON refunds (created_at) WHERE status = 'pending';
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      DROP TABLE refunds;
      DROP INDEX payment_intents_holds_expiring;
      ALTER TABLE payment_intents DROP COLUMN hold_expires_at, DROP COLUMN capture_amount, DROP COLUMN void_reason,
        DROP COLUMN amount_refund_reserved;
    `);
  }
}
