import { outbox_table_sql } from '@paynet/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Several webhook endpoints per merchant (API.md, merchants: webhook
 * endpoints), each with its own secrets: the current one (expires_at null)
 * and any in a rotation's grace. A secret is sealed with its row's id as the
 * associated data. The merchant's webhook_url and webhook_secret become its
 * first endpoint: the secret row takes the merchant's id, the id it was
 * sealed with, so the sealed text moves as it is (no key is needed here).
 * merchants.webhook_secret_sealed stays: it is the secret a first endpoint
 * made again by the older route gets. The outbox carries
 * webhook_endpoint.disabled to the merchant's stream.
 */
export class WebhookEndpoints1734500000000 implements MigrationInterface {
  name = 'WebhookEndpoints1734500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE webhook_endpoints (
        seq             bigserial   NOT NULL UNIQUE,
        id              text        PRIMARY KEY,
        merchant_id     text        NOT NULL REFERENCES merchants (id),
        url             text        NOT NULL,
        enabled_events  text[]      NOT NULL CHECK (cardinality(enabled_events) >= 1),
        description     text,
        status          text        NOT NULL CHECK (status IN ('enabled', 'disabled')),
        disabled_reason text        CHECK (disabled_reason IN ('merchant', 'gone', 'failing')),
        enabled_since   timestamptz NOT NULL DEFAULT now(),
        created_at      timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'disabled') = (disabled_reason IS NOT NULL))
      );
      CREATE INDEX webhook_endpoints_by_merchant ON webhook_endpoints (merchant_id, seq);

      CREATE TABLE webhook_endpoint_secrets (
        id            text        PRIMARY KEY,
        endpoint_id   text        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        secret_sealed text        NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        expires_at    timestamptz
      );
      CREATE INDEX webhook_endpoint_secrets_by_endpoint ON webhook_endpoint_secrets (endpoint_id, created_at DESC);

      -- Enabled since the merchant began: deliveries queued before this migration stay due.
      INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, status, enabled_since, created_at)
      SELECT 'we_' || replace(gen_random_uuid()::text, '-', ''), id, webhook_url, ARRAY['*'], 'enabled', created_at, created_at
      FROM merchants WHERE webhook_url IS NOT NULL;
      INSERT INTO webhook_endpoint_secrets (id, endpoint_id, secret_sealed, created_at)
      SELECT m.id, e.id, m.webhook_secret_sealed, m.created_at FROM merchants m JOIN webhook_endpoints e ON e.merchant_id = m.id;

      ALTER TABLE merchants DROP COLUMN webhook_url;
    `);
    await runner.query(outbox_table_sql);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      DROP TABLE outbox;
      ALTER TABLE merchants ADD COLUMN webhook_url text;
      UPDATE merchants m SET webhook_url = (SELECT url FROM webhook_endpoints e WHERE e.merchant_id = m.id AND e.status = 'enabled' ORDER BY seq LIMIT 1);
      DROP TABLE webhook_endpoint_secrets, webhook_endpoints;
    `);
  }
}
