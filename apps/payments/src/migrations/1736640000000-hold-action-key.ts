import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which Idempotency-Key sent an intent's hold action (the capture's post or
 * the cancel's void; a digest, see requestKeyDigest): a capture or cancel
 * re-sent with that key after its first answer was lost (503) answers the
 * intent as the action left it, instead of 409 for an intent already
 * captured or canceled. As attempt_key does for pay.
 */
export class HoldActionKey1736640000000 implements MigrationInterface {
  name = 'HoldActionKey1736640000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE payment_intents ADD COLUMN hold_action_key text');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE payment_intents DROP COLUMN hold_action_key');
  }
}
