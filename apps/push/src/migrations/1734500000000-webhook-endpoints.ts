import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deliveries go to endpoints (merchants owns them) rather than to URLs: one
 * per event and endpoint, the URL read again at every attempt. Rows made
 * before endpoints have none and go to the merchant's first endpoint.
 * `webhook_endpoint_health` remembers since when an endpoint has only
 * failed (five days of that disable it); `webhook_redelivery_budget` is each
 * merchant's window of redeliveries (API.md: 10 a second).
 */
export class WebhookEndpoints1734500000000 implements MigrationInterface {
  name = 'WebhookEndpoints1734500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE webhook_deliveries ADD COLUMN endpoint_id text;
      DROP INDEX webhook_deliveries_one_per_event_endpoint;
      CREATE UNIQUE INDEX webhook_deliveries_one_per_event_and_endpoint ON webhook_deliveries (event_id, endpoint_id) WHERE origin = 'event';
      CREATE INDEX webhook_deliveries_pending_by_endpoint ON webhook_deliveries (endpoint_id) WHERE status = 'pending';

      CREATE TABLE webhook_endpoint_health (
        endpoint_id   text        PRIMARY KEY,
        merchant_id   text        NOT NULL,
        failing_since timestamptz
      );

      CREATE TABLE webhook_redelivery_budget (
        merchant_id  text        PRIMARY KEY,
        window_start timestamptz NOT NULL,
        used         integer     NOT NULL CHECK (used >= 0)
      );
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      DROP TABLE webhook_redelivery_budget, webhook_endpoint_health;
      DROP INDEX webhook_deliveries_pending_by_endpoint, webhook_deliveries_one_per_event_and_endpoint;
      CREATE UNIQUE INDEX webhook_deliveries_one_per_event_endpoint ON webhook_deliveries (event_id, url) WHERE origin = 'event';
      ALTER TABLE webhook_deliveries DROP COLUMN endpoint_id;
    `);
  }
}
