import { dataSourceOptions, withTransaction } from '@paynet/platform';
import { createTestDatabase, type TestDatabase } from '@paynet/testing';
import pg from 'pg';
import { DataSource } from 'typeorm';

/** A deadlock or serialization failure is retried by withTransaction, never surfaced to the caller. */
describe('transactions under deadlock', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = new DataSource({ type: 'postgres', url: database.url, poolSize: 4 });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE rows (id int PRIMARY KEY, value int NOT NULL)');
    await dataSource.query('INSERT INTO rows VALUES (1, 0), (2, 0)');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('retries the transaction PostgreSQL chose as the deadlock victim, and it then commits', async () => {
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    let attempts = 0;
    let other_done: Promise<unknown> = Promise.resolve();
    const result = await withTransaction(dataSource, async (manager) => {
      attempts += 1;
      // This session detects deadlocks first, so it is the one PostgreSQL aborts.
      await manager.query(`SET LOCAL deadlock_timeout = '100ms'`);
      await manager.query('UPDATE rows SET value = value + 1 WHERE id = 1');
      if (attempts === 1) {
        await other.query(`SET deadlock_timeout = '10s'`);
        await other.query('BEGIN');
        await other.query('UPDATE rows SET value = value + 10 WHERE id = 2');
        // The other session now waits for row 1 (ours) while we wait for row 2 (its): a deadlock.
        other_done = other.query('UPDATE rows SET value = value + 10 WHERE id = 1').then(() => other.query('COMMIT'));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await manager.query('UPDATE rows SET value = value + 1 WHERE id = 2');
      return attempts;
    });
    await other_done;
    await other.end();
    expect(result).toBe(2);
    const rows: { id: number; value: number }[] = await dataSource.query('SELECT id, value FROM rows ORDER BY id');
    expect(rows).toEqual([
      { id: 1, value: 11 },
      { id: 2, value: 11 },
    ]);
  });

  it('runs READ COMMITTED without JIT, as every service connection sets them, whatever the database defaults', async () => {
    await dataSource.query(`ALTER DATABASE "${database.name}" SET default_transaction_isolation = 'serializable'`);
    const service = new DataSource(
      dataSourceOptions({ url: database.url, schema: 'public', pool_size: 1, entities: [], migrations: [], application_name: 'isolation-test' }),
    );
    await service.initialize();
    const plain = new pg.Client({ connectionString: database.url });
    await plain.connect();
    try {
      const inside: { transaction_isolation: string }[] = await withTransaction(service, (manager) => manager.query('SHOW transaction_isolation'));
      expect(inside[0]?.transaction_isolation).toBe('read committed');
      expect(await service.query('SHOW jit')).toEqual([{ jit: 'off' }]);
      // The database default did change: a connection without our settings gets it.
      expect((await plain.query('SHOW transaction_isolation')).rows[0]).toEqual({ transaction_isolation: 'serializable' });
    } finally {
      await plain.end();
      await service.destroy();
      await dataSource.query(`ALTER DATABASE "${database.name}" RESET default_transaction_isolation`);
    }
  });
});
