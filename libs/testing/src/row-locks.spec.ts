import { withClient } from '@paynet/devstack';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './infra.js';
import { holdRowLocks } from './row-locks.js';

// Starting PostgreSQL here (no server on 5432) takes a few seconds.
const infra_timeout_ms = 90_000;
const select_for_update = 'SELECT 1 FROM public.rows WHERE id = $1 FOR UPDATE';

describe('holdRowLocks', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    await withClient(database.url, (client) => client.query('CREATE TABLE public.rows (id int PRIMARY KEY, n int NOT NULL); INSERT INTO public.rows VALUES (1, 0), (2, 0)'));
  }, infra_timeout_ms);

  afterAll(async () => {
    await database?.drop();
  });

  /** An update of row `id` in a session of its own: it waits while the row is held. */
  async function update(id: number): Promise<number> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query('UPDATE public.rows SET n = n + 1 WHERE id = $1', [id])).rowCount ?? 0;
    } finally {
      await client.end();
    }
  }

  // The waiter connects after the helper first looked: PostgreSQL keeps a
  // transaction's first view of pg_stat_activity, and the helper looks from
  // inside the transaction that holds the rows.
  it('sees a session that connected after it first looked wait, and holds it until released', async () => {
    const locks = await holdRowLocks(database.url, select_for_update, [1]);
    const updating = update(1);
    await locks.untilSomeoneWaits({ stopping: updating });
    let done = false;
    void updating.then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(done).toBe(false);
    await locks.release();
    expect(await updating).toBe(1);
  });

  it('fails at once, saying what it answered, when the request it was to stop settles without waiting', async () => {
    const locks = await holdRowLocks(database.url, select_for_update, [1]);
    try {
      const started_ms = Date.now();
      // Row 2 is not held: this update never waits.
      await expect(locks.untilSomeoneWaits({ stopping: update(2), timeout_ms: 10_000 })).rejects.toThrow(
        /nobody waited for the held row locks: the request they were to stop answered 1/,
      );
      expect(Date.now() - started_ms).toBeLessThan(5_000);
      await expect(locks.untilSomeoneWaits({ stopping: Promise.reject(new Error('connection refused')), timeout_ms: 10_000 })).rejects.toThrow(/failed: connection refused/);
    } finally {
      await locks.release();
    }
  });

  it('times out when nobody comes and nothing it waits for settles', async () => {
    const locks = await holdRowLocks(database.url, select_for_update, [1]);
    try {
      await expect(locks.untilSomeoneWaits({ timeout_ms: 300 })).rejects.toThrow(/timed out after 300 ms for a session waiting for the held row locks/);
    } finally {
      await locks.release();
    }
  });
});
