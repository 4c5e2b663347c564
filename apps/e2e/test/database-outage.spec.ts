import { startEmbeddedPostgres, type InfraHandle } from '@paynet/devstack';
import { createHolder, createMerchant, jsonFetch, type Stack, startStack, testInfra, type TestHolder, type TestMerchant, waitFor } from '@paynet/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * PostgreSQL goes away under a running platform: every service answers 503
 * `service_unavailable` with Retry-After (try again, same Idempotency-Key),
 * not a 500 that reads like a bug, and once the database is back the same
 * requests succeed without restarting anything.
 */
describe('a PostgreSQL outage', () => {
  let folder: string;
  let postgres: InfraHandle;
  let stack: Stack;
  let merchant: TestMerchant;
  let holder: TestHolder;

  const startPostgres = (port?: number) =>
    startEmbeddedPostgres({ dataDir: join(folder, 'postgres'), port, logFile: join(folder, 'postgres.log'), detached: true, unref: true, env: {} });

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'paynet-outage-'));
    postgres = await startPostgres();
    const { natsUrl } = await testInfra();
    stack = await startStack({ services: ['accounts', 'merchants', 'payments'], infra: { adminDatabaseUrl: postgres.url, natsUrl } });
    [merchant, holder] = await Promise.all([createMerchant(stack), createHolder(stack, { amount: 5_000 })]);
  });

  afterAll(async () => {
    await stack?.stop();
    await postgres?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  function createIntent(key: string) {
    return merchant.raw('POST', '/v1/payment-intents', JSON.stringify({ amount: 1_200, currency: 'USD', reference: key }), {
      'content-type': 'application/json',
      'idempotency-key': key,
    });
  }

  it('is answered 503 with Retry-After by every service while it lasts, and the same requests succeed after it', async () => {
    const port = Number(new URL(postgres.url).port);
    await postgres.stop();

    const during = {
      balance: await holder.fetch('GET', `/v1/accounts/${holder.id}/balance`),
      merchant: await jsonFetch(`${stack.urls.merchants}/v1/merchants/${merchant.id}`, { headers: { authorization: `Bearer ${stack.adminToken}` } }),
      create: await createIntent('outage-order-1'),
    };
    for (const [what, answer] of Object.entries(during)) {
      expect({ what, status: answer.status, retry_after: answer.headers.get('retry-after'), body: answer.body }).toEqual({
        what,
        status: 503,
        retry_after: '1',
        body: { error: { type: 'api_error', code: 'service_unavailable', message: expect.any(String) } },
      });
    }

    postgres = await startPostgres(port);
    // The pools reconnect by themselves: the very same requests now go through.
    await waitFor(async () => (await holder.fetch('GET', `/v1/accounts/${holder.id}/balance`)).status === 200, { timeout_ms: 30_000 });
    expect((await holder.fetch('GET', `/v1/accounts/${holder.id}/balance`)).body).toMatchObject({ posted: 5_000, available: 5_000 });
    const created = await createIntent('outage-order-1');
    expect(created.status).toBe(201);
    const intent = created.body as { id: string; status: string };
    expect(intent.status).toBe('requires_payment');
    const paid = await holder.fetch('POST', `/v1/payment-intents/${intent.id}/pay`, { account: holder.id }, { 'idempotency-key': 'outage-pay-1' });
    expect(paid).toMatchObject({ status: 200, body: { status: 'succeeded', amount_received: 1_200 } });
    expect((await holder.fetch('GET', `/v1/accounts/${holder.id}/balance`)).body).toMatchObject({ posted: 3_800 });
  });
});
