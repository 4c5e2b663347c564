import { dataSourceOptions, GroupCommit, isDatabaseUnavailable } from '@paynet/platform';
import { createTestDatabase, holdRowLocks, type TestDatabase, waitFor } from '@paynet/testing';
import fc from 'fast-check';
import pg from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';

/**
 * GroupCommit (libs/platform) against a real PostgreSQL: the one-statement
 * steps of payments run through it. Statements submitted in one tick while
 * `in_flight_max` others run are deterministic: the first ones go alone at
 * once, everything after them waits and goes together, so these tests need
 * no timing.
 */
describe('group commit: statements sharing a transaction behave as if each were its own', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let admin: pg.Pool;
  const groups: GroupCommit[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('paynet_group_commit');
    dataSource = new DataSource(dataSourceOptions({ url: database.url, schema: 'public', pool_size: 8, entities: [], migrations: [], application_name: 'group-commit-test' }));
    await dataSource.initialize();
    admin = new pg.Pool({ connectionString: database.url, max: 2 });
    await admin.query(`
      CREATE TABLE entries (seq bigserial PRIMARY KEY, run text NOT NULL, label text NOT NULL, amount int NOT NULL CHECK (amount >= 0));
      CREATE TABLE references_taken (reference text, CONSTRAINT reference_once UNIQUE (reference) DEFERRABLE INITIALLY DEFERRED);
      CREATE TABLE locked (id int PRIMARY KEY);
      INSERT INTO locked VALUES (1);`);
  });

  afterAll(async () => {
    for (const group of groups) await group.beforeApplicationShutdown();
    await admin.end();
    await dataSource.destroy();
    await database.drop();
  });

  function groupCommit(in_flight_max: number): GroupCommit {
    const group = new GroupCommit(dataSource, { in_flight_max });
    groups.push(group);
    return group;
  }

  const waiter = `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'group-commit-test' AND wait_event_type = 'Lock'`;

  /** Asked in autocommit statements: holdRowLocks asks in its own transaction, whose one snapshot of pg_stat_activity misses connections opened after it began. */
  async function untilOneWaitsForALock(): Promise<void> {
    await waitFor(async () => (await admin.query(waiter)).rowCount === 1, { timeout_ms: 10_000, description: 'a statement waiting for the held lock' });
  }

  type Entry = { label: string; amount: number; xact: string };
  const insert_entry = `INSERT INTO entries (run, label, amount) VALUES ($1, $2, $3) RETURNING label, amount, pg_current_xact_id()::text AS xact`;

  async function labelsWritten(run: string): Promise<string[]> {
    const { rows } = await admin.query<{ label: string }>('SELECT label FROM entries WHERE run = $1 ORDER BY label', [run]);
    return rows.map((row) => row.label);
  }

  it('commits statements submitted while another runs in one transaction, and answers each caller its own rows', async () => {
    const group = groupCommit(1);
    const labels = Array.from({ length: 20 }, (_, index) => `e${String(index).padStart(2, '0')}`);
    const answers = await Promise.all(labels.map((label, index) => group.query<Entry>(insert_entry, ['together', label, index])));
    answers.forEach((rows, index) => expect(rows).toEqual([{ label: labels[index], amount: index, xact: expect.any(String) }]));
    // The first ran alone; the 19 that waited for it committed together.
    expect(new Set(answers.map((rows) => rows[0]?.xact)).size).toBe(2);
    expect(await labelsWritten('together')).toEqual(labels);
  });

  it('runs every statement alone when nothing else is running, and with in_flight_max 0', async () => {
    const idle = groupCommit(4);
    const one = await idle.query<Entry>(insert_entry, ['alone', 'a', 1]);
    const two = await idle.query<Entry>(insert_entry, ['alone', 'b', 2]);
    expect(one[0]?.xact).not.toBe(two[0]?.xact);
    const off = groupCommit(0);
    const answers = await Promise.all(['c', 'd', 'e', 'f'].map((label) => off.query<Entry>(insert_entry, ['alone', label, 3])));
    expect(new Set(answers.map((rows) => rows[0]?.xact)).size).toBe(4);
  });

  it('never fails a statement for another one’s error, and applies each good one exactly once (property, random batches)', async () => {
    let run_number = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ amount: fc.integer({ min: -2, max: 100 }) }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 3 }),
        async (statements, in_flight_max) => {
          const group = groupCommit(in_flight_max);
          const run = `property-${(run_number += 1)}`;
          const labels = statements.map((_, index) => `s${String(index).padStart(2, '0')}`);
          const answers = await Promise.allSettled(statements.map(({ amount }, index) => group.query<Entry>(insert_entry, [run, labels[index], amount])));
          answers.forEach((answer, index) => {
            const amount = statements[index]?.amount as number;
            if (amount >= 0) {
              expect(answer).toEqual({ status: 'fulfilled', value: [{ label: labels[index], amount, xact: expect.any(String) }] });
            } else {
              // Exactly what the statement alone would have thrown: TypeORM's error over the check's.
              expect(answer.status).toBe('rejected');
              const error = (answer as PromiseRejectedResult).reason as QueryFailedError & { code?: string };
              expect(error).toBeInstanceOf(QueryFailedError);
              expect(error.code).toBe('23514');
            }
          });
          expect(await labelsWritten(run)).toEqual(labels.filter((_, index) => (statements[index]?.amount as number) >= 0));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('runs the statements of a shared transaction in the order of their keys', async () => {
    const group = groupCommit(1);
    const keys = ['m', 'c', 'x', 'a', 'k'];
    await Promise.all([group.query(insert_entry, ['ordered', 'first', 0]), ...keys.map((key) => group.query(insert_entry, ['ordered', key, 0], key))]);
    const { rows } = await admin.query<{ label: string }>(`SELECT label FROM entries WHERE run = 'ordered' AND label <> 'first' ORDER BY seq`);
    expect(rows.map((row) => row.label)).toEqual([...keys].sort());
  });

  it('does not hold every statement up behind one that waits for a row lock: what waited too long goes beside it', async () => {
    const group = groupCommit(1);
    const held = await holdRowLocks(database.url, 'SELECT id FROM public.locked WHERE id = 1 FOR UPDATE', []);
    const blocked = group.query('UPDATE locked SET id = id WHERE id = 1 RETURNING id', []);
    await untilOneWaitsForALock();
    const beside = await group.query<Entry>(insert_entry, ['beside', 'while-blocked', 1]);
    expect(beside).toEqual([{ label: 'while-blocked', amount: 1, xact: expect.any(String) }]);
    await held.release();
    expect(await blocked).toEqual([{ id: 1 }]);
  });

  it('runs every statement again alone when the COMMIT is refused (a deferred check): only the statement that broke it fails', async () => {
    const group = groupCommit(1);
    const take = (reference: string) => group.query('INSERT INTO references_taken (reference) VALUES ($1) RETURNING reference', [reference]);
    await take('r-1');
    // r-1 again breaks the deferred check only at COMMIT, rolling r-2 and r-3 back with it.
    const answers = await Promise.allSettled([take('warm-up'), take('r-2'), take('r-1'), take('r-3')]);
    expect(answers.map((answer) => answer.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(((answers[2] as PromiseRejectedResult).reason as { code?: string }).code).toBe('23505');
    const { rows } = await admin.query<{ reference: string }>('SELECT reference FROM references_taken ORDER BY reference');
    expect(rows.map((row) => row.reference)).toEqual(['r-1', 'r-2', 'r-3', 'warm-up']);
  });

  it('fails every statement of a transaction whose connection is lost, as a lost database, applies none of them, and goes on with a new connection', async () => {
    const group = groupCommit(1);
    const held = await holdRowLocks(database.url, 'SELECT id FROM public.locked WHERE id = 1 FOR UPDATE', []);
    const waiting = Promise.allSettled([
      group.query('SELECT 1 AS warm_up', []),
      // Ordered first in the shared transaction: it waits for the held lock, the insert behind it.
      group.query('UPDATE locked SET id = id WHERE id = 1 RETURNING id', [], 'a'),
      group.query(insert_entry, ['lost', 'never', 1], 'b'),
    ]);
    await untilOneWaitsForALock();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM (${waiter}) AS waiting`);
    const answers = await waiting;
    await held.release();
    expect(answers[0]?.status).toBe('fulfilled');
    for (const answer of answers.slice(1)) {
      expect(answer.status).toBe('rejected');
      expect((answer as PromiseRejectedResult).reason).toBeInstanceOf(QueryFailedError);
      expect(isDatabaseUnavailable((answer as PromiseRejectedResult).reason)).toBe(true);
    }
    expect(await labelsWritten('lost')).toEqual([]);
    const after = await Promise.all(['x', 'y', 'z'].map((label) => group.query<Entry>(insert_entry, ['after-loss', label, 1])));
    expect(after.map((rows) => rows[0]?.label)).toEqual(['x', 'y', 'z']);
    expect(new Set(after.map((rows) => rows[0]?.xact)).size).toBe(2);
  });
});
