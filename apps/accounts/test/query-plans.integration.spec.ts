import { createTestDatabase, type TestDatabase } from '@paynet/testing';
import { dataSourceOptions, runMigrations } from '@paynet/platform';
import { DataSource } from 'typeorm';
import { storedLinesFrom } from '../src/ledger/ledger.repository.js';
import { migrations } from '../src/migrations/index.js';

/** Rows added, unanalyzed: enough that a plan scanning the table is far slower than one probing its index. */
const postings_added = 40_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function scannedWhole(node: PlanNode): string[] {
  const own = node['Node Type'] === 'Seq Scan' && node['Relation Name'] ? [node['Relation Name']] : [];
  return [...own, ...(node.Plans ?? []).flatMap(scannedWhole)];
}

/**
 * The ledger's lookups by id stay index probes on tables that grew since they
 * were last analyzed (a fresh deployment, a busy hour before autovacuum):
 * planned as a join over the id list, the batch's journal lookup once scanned
 * all of postings, and every batch was slower than the one before.
 */
describe('query plans on a ledger grown since its last ANALYZE', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = new DataSource(
      dataSourceOptions({ url: database.url, schema: 'accounts', pool_size: 2, entities: [], migrations, application_name: 'plan-test' }),
    );
    await dataSource.initialize();
    await runMigrations(dataSource, 'accounts');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('looks applied transfers up through the indexes, never by scanning journal entries or postings', async () => {
    const plan = await dataSource.transaction(async (manager) => {
      // Grown past the service's checks (this database is the test's own): only the table sizes matter to the planner.
      await manager.query('SET LOCAL session_replication_role = replica');
      await manager.query(
        `INSERT INTO journal_entries (id, currency, description) SELECT 'grown-' || i, 'USD', 'x' FROM generate_series(1, $1) i`,
        [postings_added / 2],
      );
      await manager.query(
        `INSERT INTO postings (id, entry_id, line_index, account_id, direction, amount, currency, balance_after)
         SELECT 'txn_grown' || i || '_' || l, 'grown-' || i, l, 'acct_fundingUSD', 'debit', 1, 'USD', 0
         FROM generate_series(1, $1) i, generate_series(0, 1) l`,
        [postings_added / 2],
      );
      const ids = Array.from({ length: 64 }, (_, index) => `wanted-${index}`);
      const rows: { 'QUERY PLAN': [{ Plan: PlanNode }] }[] = await manager.query(`EXPLAIN (FORMAT JSON) SELECT found.* FROM ${storedLinesFrom('$1')}`, [ids]);
      return rows[0]?.['QUERY PLAN'][0].Plan as PlanNode;
    });
    expect(scannedWhole(plan)).toEqual([]);
  });
});
