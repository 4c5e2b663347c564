import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which Idempotency-Key started an intent's current attempt (a digest of the
 * key and its scope, see requestKeyDigest): a pay re-sent with that key after its
 * first answer was lost (503) answers the attempt's outcome once it is
 * known, instead of 409 for an intent no longer payable.
 */
export class AttemptKey1736500000000 implements MigrationInterface {
  name = 'AttemptKey1736500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE payment_intents ADD COLUMN attempt_key text');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE payment_intents DROP COLUMN attempt_key');
  }
}
