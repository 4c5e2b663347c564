import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Velocity is counted here rather than in memory, so it holds across
 * replicas: one row per attempt the risk rules admitted, kept only while it
 * is inside the velocity window (the risk sweeper deletes the rest).
 */
export class RiskAdmissions1733100000000 implements MigrationInterface {
  name = 'RiskAdmissions1733100000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE risk_admissions (
        seq            bigserial   PRIMARY KEY,
        account        text        NOT NULL,
        payment_intent text        NOT NULL,
        amount         bigint      NOT NULL CHECK (amount > 0),
        admitted_at    timestamptz NOT NULL
      );
      CREATE INDEX risk_admissions_by_account ON risk_admissions (account, admitted_at);
      CREATE INDEX risk_admissions_by_time ON risk_admissions (admitted_at);
    `);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE risk_admissions');
  }
}
