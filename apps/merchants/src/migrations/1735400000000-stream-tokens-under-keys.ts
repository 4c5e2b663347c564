import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A stream token remembers the API key it was issued under: it stops when
 * that key stops (API.md, api-keys/rotate). Tokens issued before this
 * migration are given their merchant's newest live key, so revoking that key
 * ends them too (they expire within the hour anyway).
 */
export class StreamTokensUnderKeys1735400000000 implements MigrationInterface {
  name = 'StreamTokensUnderKeys1735400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE stream_tokens ADD COLUMN api_key_id text REFERENCES api_keys (id);
      UPDATE stream_tokens s SET api_key_id = (
        SELECT k.id FROM api_keys k WHERE k.merchant_id = s.merchant_id
        ORDER BY k.expires_at DESC NULLS FIRST, k.created_at DESC LIMIT 1);
      DELETE FROM stream_tokens WHERE api_key_id IS NULL;
      ALTER TABLE stream_tokens ALTER COLUMN api_key_id SET NOT NULL;
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE stream_tokens DROP COLUMN api_key_id');
  }
}
