import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a processing intent's ledger command was last sent (by pay, or by the
 * reconciler, whose claim also moves it on so that no other replica takes the
 * same intent for a while). Intents already processing count from now.
 */
export class Reconcile1733200000000 implements MigrationInterface {
  name = 'Reconcile1733200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE payment_intents ADD COLUMN attempt_sent_at timestamptz;
      UPDATE payment_intents SET attempt_sent_at = now() WHERE status = 'processing';
      CREATE INDEX payment_intents_processing ON payment_intents (attempt_sent_at) WHERE status = 'processing';
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX payment_intents_processing; ALTER TABLE payment_intents DROP COLUMN attempt_sent_at');
  }
}
