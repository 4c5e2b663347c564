import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Holder tokens that can be rotated, and short-lived holder stream tokens
 * (API.md, accounts). Each wallet's token gets an id (internal, never shown:
 * push closes the streams of a rotated token by it); a holder stream token
 * names the token id it was issued under and works only while that token is
 * the wallet's current one.
 */
export class HolderTokenRotation1735400000000 implements MigrationInterface {
  name = 'HolderTokenRotation1735400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE ledger_accounts ADD COLUMN token_id text UNIQUE;
      UPDATE ledger_accounts SET token_id = 'tok_' || replace(gen_random_uuid()::text, '-', '') WHERE token_hash IS NOT NULL;
      ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_token_id_with_hash CHECK ((token_hash IS NULL) = (token_id IS NULL));

      CREATE TABLE holder_stream_tokens (
        token_hash text        PRIMARY KEY,
        account_id text        NOT NULL REFERENCES ledger_accounts (id),
        token_id   text        NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX holder_stream_tokens_expiry ON holder_stream_tokens (expires_at);
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      DROP TABLE holder_stream_tokens;
      ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_token_id_with_hash;
      ALTER TABLE ledger_accounts DROP COLUMN token_id;
    `);
  }
}
