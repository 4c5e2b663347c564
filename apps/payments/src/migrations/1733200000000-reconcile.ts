import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When an intent's ledger command was last sent: a processing intent's pay
 * attempt, or a held intent's capture post or cancel void (by the request,
 * or by the reconciler, whose claim also moves it on so that no other replica
 * takes the same intent for a while). Commands already out count from now.
 */
export class Reconcile1733200000000 implements MigrationInterface {
  name = 'Reconcile1733200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE payment_intents ADD COLUMN attempt_sent_at timestamptz;
      UPDATE payment_intents SET attempt_sent_at = now()
        WHERE status = 'processing' OR (status = 'requires_capture' AND (capture_amount IS NOT NULL OR void_reason IS NOT NULL));
      CREATE INDEX payment_intents_processing ON payment_intents (attempt_sent_at) WHERE status = 'processing';
      CREATE INDEX payment_intents_hold_actions ON payment_intents (attempt_sent_at)
        WHERE status = 'requires_capture' AND (capture_amount IS NOT NULL OR void_reason IS NOT NULL);
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX payment_intents_hold_actions; DROP INDEX payment_intents_processing; ALTER TABLE payment_intents DROP COLUMN attempt_sent_at');
  }
}
