import { createTestDatabase, type TestDatabase } from '@paynet/testing';
import pg from 'pg';
import type { EntityManager, QueryRunner } from 'typeorm';
import { migrations } from '../src/migrations/index.js';
import { takeRedeliveryBudget } from '../src/webhooks/webhook-deliveries.repository.js';
import { redeliveries_per_window_max } from '../src/webhooks/webhook-deliveries.service.js';

/**
 * API.md: at most 10 redeliveries a second per merchant, held across push
 * replicas (the budget is a PostgreSQL row). Tested with a window long
 * enough that every request of the burst surely falls in it, so the count,
 * not the machine's speed, decides.
 */
describe('push: the redelivery budget', () => {
  const window_ms = 60_000;
  let database: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 24 });
    const client = await pool.connect();
    try {
      const runner = { query: (sql: string) => client.query(sql) } as unknown as QueryRunner;
      for (const Migration of migrations) await new Migration().up(runner);
    } finally {
      client.release();
    }
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  /** One redelivery request's transaction, on its own connection, as concurrent requests on several replicas run. */
  async function take(merchant_id: string): Promise<number | null> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const manager = { query: async (sql: string, params: unknown[]) => (await client.query(sql, params)).rows } as unknown as EntityManager;
      const wait_ms = await takeRedeliveryBudget(manager, merchant_id, redeliveries_per_window_max, window_ms);
      // A refused request changes nothing: its transaction is rolled back, as the service's is when it throws 429.
      await client.query(wait_ms === null ? 'COMMIT' : 'ROLLBACK');
      return wait_ms;
    } finally {
      client.release();
    }
  }

  it('lets exactly 10 of 20 concurrent redeliveries through in one window, and says how long the others must wait', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => take('mer_burst0000001')));
    expect(answers.filter((wait_ms) => wait_ms === null)).toHaveLength(redeliveries_per_window_max);
    const refused = answers.filter((wait_ms): wait_ms is number => wait_ms !== null);
    expect(refused).toHaveLength(20 - redeliveries_per_window_max);
    for (const wait_ms of refused) expect(wait_ms > 0 && wait_ms <= window_ms).toBe(true);
  });

  it("keeps each merchant's budget its own", async () => {
    for (let i = 0; i < redeliveries_per_window_max; i++) expect(await take('mer_spender00001')).toBeNull();
    expect(await take('mer_spender00001')).not.toBeNull();
    expect(await take('mer_bystander001')).toBeNull();
  });

  it('starts a new window once the last one has passed', async () => {
    const client = await pool.connect();
    try {
      const manager = { query: async (sql: string, params: unknown[]) => (await client.query(sql, params)).rows } as unknown as EntityManager;
      for (let i = 0; i < redeliveries_per_window_max; i++) expect(await takeRedeliveryBudget(manager, 'mer_windowed0001', redeliveries_per_window_max, window_ms)).toBeNull();
      expect(await takeRedeliveryBudget(manager, 'mer_windowed0001', redeliveries_per_window_max, window_ms)).not.toBeNull();
      await client.query("UPDATE webhook_redelivery_budget SET window_start = window_start - interval '61 seconds' WHERE merchant_id = 'mer_windowed0001'");
      expect(await takeRedeliveryBudget(manager, 'mer_windowed0001', redeliveries_per_window_max, window_ms)).toBeNull();
    } finally {
      client.release();
    }
  });
});
