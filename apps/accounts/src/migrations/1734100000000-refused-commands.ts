import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refusals are final: every transfer or hold id accounts refused for the
 * state of its accounts (insufficient funds, an account missing, ...) is
 * written here, with the answer it got, in the transaction that refused it.
 * A later copy of the same command (a paused replica resuming, a slow
 * re-send) is answered the same refusal instead of being applied against
 * balances that have changed since. `fingerprint` is the command's content,
 * so a re-use of the id with other content is told apart. Append-only.
 */
export class RefusedCommands1734100000000 implements MigrationInterface {
  name = 'RefusedCommands1734100000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE refused_commands (
        kind         text        NOT NULL CHECK (kind IN ('transfer', 'hold')),
        id           text        NOT NULL,
        fingerprint  text        NOT NULL,
        -- The refusal as answered: the API error envelope (status, type, code, message, param).
        answer       jsonb       NOT NULL CHECK ((answer->>'status')::int BETWEEN 400 AND 499),
        created_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, id)
      );
      -- refuse_change() is the journal's (1732300000000-initial): a refusal is as final as an entry.
      CREATE TRIGGER refused_commands_append_only BEFORE UPDATE OR DELETE ON refused_commands
        FOR EACH ROW EXECUTE FUNCTION refuse_change();
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE refused_commands;');
  }
}
