import { outbox_table_sql } from '@paynet/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * accounts' transactional outbox (libs/platform outbox.ts), as payments' and
 * merchants': `account.balance_updated` is written in the transaction that
 * changes the wallet's balance, and published after commit (OutboxPublisher).
 */
export class Outbox1735000000000 implements MigrationInterface {
  name = 'Outbox1735000000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(outbox_table_sql);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE outbox');
  }
}
