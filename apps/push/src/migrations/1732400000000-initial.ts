import { idempotency_table_sql } from '@paynet/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * push's tables. `events` is every domain event push has recorded (deduped by
 * event id; `stream_seq` is its JetStream sequence, for resume). A webhook
 * delivery is one event to one endpoint: the consumer makes at most one per
 * (event, url); redeliveries add more. The worker claims due rows through
 * `webhook_deliveries_due`.
 */
export class Initial1732400000000 implements MigrationInterface {
  name = 'Initial1732400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE events (
        id          text        PRIMARY KEY,
        type        text        NOT NULL,
        merchant_id text,
        account_id  text,
        stream_seq  bigint      NOT NULL,
        payload     text        NOT NULL,
        created     timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX events_by_merchant ON events (merchant_id, stream_seq) WHERE merchant_id IS NOT NULL;
      CREATE INDEX events_by_account ON events (account_id, stream_seq) WHERE account_id IS NOT NULL;
      CREATE INDEX events_received_at ON events (received_at);

      CREATE TABLE webhook_deliveries (
        seq              bigserial   NOT NULL UNIQUE,
        id               text        PRIMARY KEY,
        event_id         text        NOT NULL REFERENCES events (id),
        merchant_id      text        NOT NULL,
        url              text        NOT NULL,
        origin           text        NOT NULL CHECK (origin IN ('event', 'redeliver')),
        status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at  timestamptz,
        claim_id         uuid,
        last_status_code integer,
        last_error       text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
      );
      CREATE UNIQUE INDEX webhook_deliveries_one_per_event_endpoint ON webhook_deliveries (event_id, url) WHERE origin = 'event';
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_by_merchant ON webhook_deliveries (merchant_id, seq DESC);
      CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id, seq DESC);
    `);
    await runner.query(idempotency_table_sql);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE idempotency_keys; DROP TABLE webhook_deliveries; DROP TABLE events;');
  }
}
