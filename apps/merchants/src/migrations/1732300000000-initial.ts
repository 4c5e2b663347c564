import { idempotency_table_sql } from '@paynet/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Merchants and their credentials. Secrets are stored sealed (AES-256-GCM), tokens as hashes. */
export class Initial1732300000000 implements MigrationInterface {
  name = 'Initial1732300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE merchants (
        id                    text        PRIMARY KEY,
        name                  text        NOT NULL,
        currency              char(3)     NOT NULL,
        fee_bps               integer     NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
        webhook_url           text,
        webhook_secret_sealed text        NOT NULL,
        account_id            text        NOT NULL UNIQUE,
        created_at            timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE api_keys (
        id            text        PRIMARY KEY,
        merchant_id   text        NOT NULL REFERENCES merchants (id),
        secret_sealed text        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        expires_at    timestamptz
      );
      CREATE INDEX api_keys_by_merchant ON api_keys (merchant_id);

      -- A nonce is good once per key while its timestamp could still be accepted.
      CREATE TABLE request_nonces (
        api_key_id text        NOT NULL,
        nonce      text        NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (api_key_id, nonce)
      );
      CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);

      CREATE TABLE stream_tokens (
        token_hash  text        PRIMARY KEY,
        merchant_id text        NOT NULL REFERENCES merchants (id),
        expires_at  timestamptz NOT NULL
      );
    `);
    await runner.query(idempotency_table_sql);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE idempotency_keys, stream_tokens, request_nonces, api_keys, merchants');
  }
}
