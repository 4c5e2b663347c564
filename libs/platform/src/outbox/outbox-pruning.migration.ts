import type { MigrationInterface, QueryRunner } from 'typeorm';
import { outbox_published_index_sql } from './outbox.js';

/**
 * Published outbox rows by when they were published, so OutboxPruner finds
 * the ones past OUTBOX_RETENTION_SECONDS without reading the table. Written
 * once per row, when it is marked published, off the request path. One
 * migration for every service with an outbox (payments, accounts, merchants),
 * each listing it after its own.
 */
export class OutboxPruning1736200000000 implements MigrationInterface {
  name = 'OutboxPruning1736200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(outbox_published_index_sql);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX outbox_published');
  }
}
