import { adminFetch, type InProcessStack, startInProcess } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet } from './support.js';

/**
 * The journal defends itself against any SQL that reaches the database, not
 * only against the service's code (issue 15.5). Its own stack: what is
 * written past the triggers here cannot be removed from the journal.
 */
describe('the journal refuses what no ledger could hold', () => {
  let stack: InProcessStack;
  let client: pg.Client;

  beforeAll(async () => {
    stack = await startInProcess([{ service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig }]);
    client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    await client.query('SET search_path TO accounts');
  });

  afterAll(async () => {
    await client?.end();
    await stack?.stop();
  });

  /** One journal entry with these postings, in one transaction, as the ledger writes them. */
  async function writeEntry(id: string, lines: { account: string; direction: 'debit' | 'credit'; amount: number; currency?: string }[]): Promise<void> {
    await client.query('BEGIN');
    try {
      await client.query(`INSERT INTO journal_entries (id, currency, description) VALUES ($1, 'USD', 'by hand')`, [id]);
      for (const [index, line] of lines.entries()) {
        await client.query(
          `INSERT INTO postings (id, entry_id, line_index, account_id, direction, amount, currency, balance_after) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)`,
          [`${id}-${index}`, id, index, line.account, line.direction, line.amount, line.currency ?? 'USD'],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  }

  it('refuses TRUNCATE of journal entries, postings and recorded refusals', async () => {
    await fundedWallet(stack, 100);
    await expect(client.query('TRUNCATE journal_entries CASCADE')).rejects.toThrow(/append-only: TRUNCATE on journal_entries refused/);
    await expect(client.query('TRUNCATE postings')).rejects.toThrow(/append-only: TRUNCATE on postings refused/);
    await expect(client.query('TRUNCATE refused_commands')).rejects.toThrow(/append-only: TRUNCATE on refused_commands refused/);
    expect(Number((await client.query('SELECT count(*) AS n FROM postings')).rows[0].n)).toBeGreaterThan(0);
  });

  it('refuses, at commit, an entry whose postings do not balance or that has a single posting', async () => {
    const [payer, payee] = await Promise.all([fundedWallet(stack, 0), fundedWallet(stack, 0)]);
    await expect(
      writeEntry('by-hand-unbalanced', [
        { account: payer.id, direction: 'debit', amount: 5 },
        { account: payee.id, direction: 'credit', amount: 4 },
      ]),
    ).rejects.toThrow('journal entry by-hand-unbalanced does not balance in USD (net 1)');
    await expect(writeEntry('by-hand-single', [{ account: payer.id, direction: 'debit', amount: 5 }])).rejects.toThrow(
      'journal entry by-hand-single has 1 posting(s), fewer than two',
    );
    const written = await client.query(`SELECT id FROM journal_entries WHERE id LIKE 'by-hand-%'`);
    expect(written.rows).toEqual([]);
  });

  it("refuses a posting in a currency other than its account's", async () => {
    const [payer, payee] = await Promise.all([fundedWallet(stack, 0), fundedWallet(stack, 0)]);
    await expect(
      writeEntry('by-hand-euros', [
        { account: payer.id, direction: 'debit', amount: 5, currency: 'EUR' },
        { account: payee.id, direction: 'credit', amount: 5, currency: 'EUR' },
      ]),
    ).rejects.toThrow(`posting by-hand-euros-0 is in EUR, its account ${payer.id} in USD`);
  });

  it('still applies the ledger’s own transfers, deposits and verify finds them sound', async () => {
    await fundedWallet(stack, 700);
    expect((await adminFetch(stack, 'accounts', 'GET', '/v1/ledger/verify')).body).toMatchObject({ ok: true, problems: [] });
  });

  it('has verify report a posting whose currency is not its account’s, written past the triggers', async () => {
    const [payer, payee] = await Promise.all([fundedWallet(stack, 0), fundedWallet(stack, 0)]);
    // Replica mode skips triggers (a restore, a manual fix): verify is the last line.
    await client.query('SET session_replication_role = replica');
    try {
      await writeEntry('past-the-guard', [
        { account: payer.id, direction: 'debit', amount: 5, currency: 'EUR' },
        { account: payee.id, direction: 'credit', amount: 5, currency: 'EUR' },
      ]);
    } finally {
      await client.query('SET session_replication_role = origin');
    }
    const verify = await adminFetch<{ ok: boolean; problems: string[] }>(stack, 'accounts', 'GET', '/v1/ledger/verify');
    expect(verify.body.ok).toBe(false);
    expect(verify.body.problems).toEqual(
      expect.arrayContaining([`posting past-the-guard-0 is in EUR, its account ${payer.id} in USD, its entry in USD`]),
    );
  });
});
