import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * refused_commands is append-only like the journal (a refusal is final), and
 * TRUNCATE skips its row triggers: a statement trigger refuses it too.
 */
export class RefusedCommandsNoTruncate1734100100000 implements MigrationInterface {
  name = 'RefusedCommandsNoTruncate1734100100000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TRIGGER refused_commands_no_truncate BEFORE TRUNCATE ON refused_commands
        FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TRIGGER refused_commands_no_truncate ON refused_commands');
  }
}
