import { SecretBox } from '@paynet/platform';
import { generateWebhookSecret } from '@paynet/signatures';
import { createTestDatabase, type TestDatabase } from '@paynet/testing';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { QueryRunner } from 'typeorm';
import { Initial1732300000000 } from '../src/migrations/1732300000000-initial.js';
import { WebhookEndpoints1734500000000 } from '../src/migrations/1734500000000-webhook-endpoints.js';

/** Merchants onboarded before endpoints existed keep receiving webhooks, signed with the secret they were given. */
describe('merchants: the webhook endpoints migration', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  it("moves each merchant's webhook_url and sealed webhook secret into its first endpoint, and makes none for a merchant without a URL", async () => {
    const runner = { query: (sql: string) => client.query(sql) } as unknown as QueryRunner;
    await new Initial1732300000000().up(runner);
    const box = new SecretBox(randomBytes(32).toString('base64'));
    const secret = generateWebhookSecret();
    await client.query(
      `INSERT INTO merchants (id, name, currency, fee_bps, webhook_url, webhook_secret_sealed, account_id) VALUES
       ('mer_withurl0001', 'A', 'USD', 0, 'https://hooks.example.com/a', $1, 'acct_a0000001'),
       ('mer_nourl000001', 'B', 'USD', 0, NULL, $2, 'acct_b0000001')`,
      [box.seal(secret, 'mer_withurl0001'), box.seal(generateWebhookSecret(), 'mer_nourl000001')],
    );

    await new WebhookEndpoints1734500000000().up(runner);

    const endpoints = (await client.query('SELECT e.id, e.merchant_id, e.url, e.enabled_events, e.status, e.enabled_since = m.created_at AS enabled_since_onboarding FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id')).rows;
    // Enabled since onboarding: what push queued for it before the migration is still due.
    expect(endpoints).toEqual([
      { id: expect.stringMatching(/^we_[0-9a-f]{32}$/), merchant_id: 'mer_withurl0001', url: 'https://hooks.example.com/a', enabled_events: ['*'], status: 'enabled', enabled_since_onboarding: true },
    ]);
    const secrets = (await client.query('SELECT id, endpoint_id, secret_sealed, expires_at FROM webhook_endpoint_secrets')).rows;
    expect(secrets).toEqual([{ id: 'mer_withurl0001', endpoint_id: endpoints[0].id, secret_sealed: expect.any(String), expires_at: null }]);
    // Sealed with the row's id, as every endpoint secret is: the merchant's secret opens as it was.
    expect(box.open(secrets[0].secret_sealed, secrets[0].id)).toBe(secret);
    const columns = (await client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'merchants'")).rows.map((row) => row.column_name);
    expect(columns).not.toContain('webhook_url');
  });
});
