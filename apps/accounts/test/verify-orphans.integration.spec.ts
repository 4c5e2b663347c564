import { adminFetch, type InProcessStack, startInProcess } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet } from './support.js';

/**
 * A posting written past the database's checks (triggers off, as a restore or
 * a manual fix may do) is found by GET /v1/ledger/verify. Its own stack: the
 * orphan cannot be removed from the append-only journal afterwards.
 */
describe('ledger verify and postings the database checks did not see', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig }]);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('reports a posting whose journal entry or account does not exist', async () => {
    const account = await fundedWallet(stack, 500);
    expect((await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).body).toMatchObject({ ok: true, problems: [] });
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      // Replica mode skips triggers: neither the reference check nor append-only runs.
      await client.query('SET session_replication_role = replica');
      const { entry_id } = (await client.query('SELECT entry_id FROM accounts.postings WHERE account_id = $1', [account.id])).rows[0];
      await client.query(
        `INSERT INTO accounts.postings (id, entry_id, line_index, account_id, direction, amount, currency, balance_after)
         VALUES ('txn_lost1', 'entry-gone', 0, $1, 'debit', 5, 'USD', 0), ('txn_lost2', $2, 7, 'acct_gone', 'credit', 5, 'USD', 5)`,
        [account.id, entry_id],
      );
    } finally {
      await client.end();
    }
    const verify = await adminFetch<{ ok: boolean; problems: string[] }>(stack, 'accounts', 'GET', '/v1/ledger/verify');
    expect(verify.body.ok).toBe(false);
    expect(verify.body.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^posting txn_lost1 names an entry \(entry-gone\)/),
        expect.stringMatching(/^posting txn_lost2 names an entry .* or an account \(acct_gone\) that does not exist$/),
      ]),
    );
  });
});
