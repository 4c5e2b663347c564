import type { AccountObject } from '@paynet/contracts';
import { adminFetch, holdRowLocks, type InProcessStack, sleep, startInProcess, waitFor } from '@paynet/testing';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';

/** A lease this short makes "slower than its lease" quick to stage. */
const lease_seconds = 1;

/** API.md Idempotency: "same key while the first request is still running: 409", however long it runs. */
describe('an Idempotency-Key lease', () => {
  let stack: InProcessStack;
  let database: pg.Client;

  beforeAll(async () => {
    stack = await startInProcess([
      { service: 'accounts', schema: accounts_config_schema, module: AppModule.forConfig, env: { IDEMPOTENCY_LEASE_SECONDS: String(lease_seconds) } },
    ]);
    database = new pg.Client({ connectionString: stack.databaseUrl });
    await database.connect();
  });

  afterAll(async () => {
    await database?.end();
    await stack?.stop();
  });

  const deposit = (account: AccountObject, key: string) =>
    adminFetch(stack, 'accounts', 'POST', `/v1/accounts/${account.id}/deposits`, { amount: 500 }, { idempotencyKey: key });

  it('is kept by a request that outlives it: a concurrent retry gets 409 in progress, and the deposit is made once', async () => {
    const created = await adminFetch<AccountObject>(stack, 'accounts', 'POST', '/v1/accounts', { currency: 'USD', owner_name: 'Slow' });
    const account = created.body;
    const key = `slow-${account.id}`;
    // The deposit stops on the wallet's balance row, after it claimed its key.
    const locks = await holdRowLocks(stack.databaseUrl, 'SELECT 1 FROM accounts.balances WHERE account_id = $1 FOR UPDATE', [account.id]);
    const first = deposit(account, key);
    await locks.untilSomeoneWaits({ stopping: first });
    // By the database's clock, the lease taken when the key was claimed has run out several times over.
    await waitFor(
      async () => {
        const { rows } = await database.query<{ past: boolean }>(
          `SELECT now() > created_at + make_interval(secs => $2 * 3) AS past FROM accounts.idempotency_keys WHERE key = $1`,
          [key, lease_seconds],
        );
        return rows[0]?.past === true;
      },
      { description: 'three leases past the claim' },
    );
    const retry = deposit(account, key);
    // Bounds the failing case only (a retry that took the key over waits on the same lock).
    await Promise.race([retry, sleep(5_000)]);
    await locks.release();
    expect((await retry).status).toBe(409);
    expect((await retry).body).toMatchObject({ error: { type: 'idempotency_error', code: 'idempotency_request_in_progress' } });
    const answered = await first;
    expect(answered.status).toBe(201);
    const replay = await deposit(account, key);
    expect({ status: replay.status, replayed: replay.headers.get('idempotent-replayed'), body: replay.body }).toEqual({
      status: 201,
      replayed: 'true',
      body: answered.body,
    });
    const balance = await adminFetch(stack, 'accounts', 'GET', `/v1/accounts/${account.id}/balance`);
    expect(balance.body).toMatchObject({ posted: 500, available: 500 });
  });
});
