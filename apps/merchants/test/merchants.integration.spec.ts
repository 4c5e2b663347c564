import type { MerchantObject } from '@paynet/contracts';
import { PaynetClient } from '@paynet/sdk';
import { signRequest } from '@paynet/signatures';
import { adminFetch, type InProcessStack, jsonFetch, startInProcess, waitFor } from '@paynet/testing';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { merchants_config_schema } from '../src/config.js';
import { NonceSweeper } from '../src/credentials/nonce.sweeper.js';

/** merchants in process, accounts beside it as a process (merchants opens a ledger account per merchant over NATS). */
describe('merchants: onboarding and signed requests', () => {
  let stack: InProcessStack;

  beforeAll(async () => {
    stack = await startInProcess(
      [{ service: 'merchants', schema: merchants_config_schema, module: AppModule.forConfig, env: { WEBHOOK_ALLOW_PRIVATE: 'false' } }],
      { neighbours: ['accounts'] },
    );
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function onboard(name = 'Shop'): Promise<MerchantObject> {
    const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name, currency: 'MYR', fee_bps: 250 });
    expect(created.status).toBe(201);
    return created.body;
  }

  /** A signed GET with chosen parts, to test what the server refuses. */
  function signedGet(merchant: MerchantObject, path: string, parts: { timestamp?: number; nonce?: string; secret?: string; signature?: string } = {}) {
    const timestamp = String(parts.timestamp ?? Math.floor(Date.now() / 1000));
    const nonce = parts.nonce ?? randomUUID();
    const signature =
      parts.signature ??
      signRequest({ secret: parts.secret ?? (merchant.api_secret as string), timestamp, nonce, method: 'GET', path_with_query: path, body: '' });
    return jsonFetch(`${stack.urls.merchants}${path}`, {
      headers: { 'x-api-key': merchant.api_key as string, 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': signature },
    });
  }

  it('onboards a merchant with its secrets shown once, and keeps them sealed at rest', async () => {
    const merchant = await onboard();
    expect(merchant).toMatchObject({ object: 'merchant', currency: 'MYR', fee_bps: 250, webhook_url: null });
    expect(merchant.api_key).toMatch(/^mk_/);
    expect(merchant.webhook_secret).toMatch(/^whsec_/);
    const read = await signedGet(merchant, `/v1/merchants/${merchant.id}`);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('api_secret');
    expect(read.body).not.toHaveProperty('webhook_secret');
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    const dump = JSON.stringify((await client.query('SELECT m.*, k.* FROM merchants.merchants m JOIN merchants.api_keys k ON k.merchant_id = m.id')).rows);
    await client.end();
    expect(dump).toContain(merchant.id);
    expect(dump).not.toContain(merchant.api_secret);
    expect(dump).not.toContain((merchant.webhook_secret as string).slice('whsec_'.length));
  });

  it('accepts a signature once: the same nonce again is a replay', async () => {
    const merchant = await onboard();
    const nonce = randomUUID();
    expect((await signedGet(merchant, `/v1/merchants/${merchant.id}`, { nonce })).status).toBe(200);
    const replay = await signedGet(merchant, `/v1/merchants/${merchant.id}`, { nonce });
    expect(replay.status).toBe(401);
    expect(replay.body).toMatchObject({ error: { type: 'authentication_error', code: 'replayed_request' } });
  });

  it('accepts a nonce sent in several requests at once exactly once', async () => {
    const merchant = await onboard();
    const nonce = randomUUID();
    const answers = await Promise.all(Array.from({ length: 6 }, () => signedGet(merchant, `/v1/merchants/${merchant.id}`, { nonce })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
  });

  it('refuses timestamps more than 300 s away, wrong secrets and missing headers', async () => {
    const merchant = await onboard();
    const path = `/v1/merchants/${merchant.id}`;
    const now = Math.floor(Date.now() / 1000);
    expect((await signedGet(merchant, path, { timestamp: now - 290 })).status).toBe(200);
    expect((await signedGet(merchant, path, { timestamp: now - 400 })).body).toMatchObject({ error: { code: 'timestamp_out_of_tolerance' } });
    expect((await signedGet(merchant, path, { timestamp: now + 400 })).status).toBe(401);
    expect((await signedGet(merchant, path, { secret: 'sk_wrong' })).body).toMatchObject({ error: { code: 'invalid_signature' } });
    const unsigned = await jsonFetch(`${stack.urls.merchants}${path}`, { headers: { 'x-api-key': merchant.api_key as string } });
    expect(unsigned.status).toBe(401);
  });

  it('accepts several v1 signatures when one of them matches', async () => {
    const merchant = await onboard();
    const path = `/v1/merchants/${merchant.id}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomUUID();
    const good = signRequest({ secret: merchant.api_secret as string, timestamp, nonce, method: 'GET', path_with_query: path, body: '' });
    const answer = await signedGet(merchant, path, { timestamp: Number(timestamp), nonce, signature: `v1=${'0'.repeat(64)},${good}` });
    expect(answer.status).toBe(200);
  });

  it("answers another merchant's objects with 404", async () => {
    const [ours, theirs] = [await onboard('Ours'), await onboard('Theirs')];
    for (const path of [`/v1/merchants/${theirs.id}`, `/v1/merchants/${theirs.id}/balance`]) {
      const answer = await signedGet(ours, path);
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ error: { code: 'resource_missing' } });
    }
  });

  it('reads its balance from the ledger and issues stream tokens that push can check', async () => {
    const merchant = await onboard();
    const client = new PaynetClient({
      apiKey: merchant.api_key as string,
      apiSecret: merchant.api_secret as string,
      urls: { merchants: stack.urls.merchants as string, payments: 'http://127.0.0.1:9', push: 'http://127.0.0.1:9' },
    });
    expect(await client.getMerchantBalance(merchant.id)).toEqual({ object: 'balance', currency: 'MYR', posted: 0, pending: 0, available: 0 });
    const token = await client.createStreamToken(merchant.id);
    expect(token.token).toMatch(/^st_/);
    expect(token.expires_at).toBeGreaterThan(Date.now() / 1000 + 3_000);
    expect(await stack.rpc.request('merchants.stream-tokens.verify', { token: token.token })).toMatchObject({ merchant_id: merchant.id });
    await expect(stack.rpc.request('merchants.stream-tokens.verify', { token: 'st_nope' })).rejects.toMatchObject({ status: 401 });
  });

  it('keeps a rotated key working for the grace period only', async () => {
    const merchant = await onboard();
    const client = (key: string, secret: string) =>
      new PaynetClient({ apiKey: key, apiSecret: secret, urls: { merchants: stack.urls.merchants as string, payments: 'http://127.0.0.1:9', push: 'http://127.0.0.1:9' } });
    const old_client = client(merchant.api_key as string, merchant.api_secret as string);
    const rotated = (await old_client.request<MerchantObject>('POST', `/v1/merchants/${merchant.id}/api-keys/rotate`, { grace_seconds: 2 })).body;
    expect(rotated.api_key).not.toBe(merchant.api_key);
    expect((await old_client.request('GET', `/v1/merchants/${merchant.id}`)).status).toBe(200);
    expect((await client(rotated.api_key as string, rotated.api_secret as string).request('GET', `/v1/merchants/${merchant.id}`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const expired = await old_client.request('GET', `/v1/merchants/${merchant.id}`);
    expect(expired.status).toBe(401);
    expect((await client(rotated.api_key as string, rotated.api_secret as string).request('GET', `/v1/merchants/${merchant.id}`)).status).toBe(200);
  });

  it('refuses webhook URLs on private addresses when WEBHOOK_ALLOW_PRIVATE is false, and unknown fields', async () => {
    for (const url of ['http://127.0.0.1:8080/hook', 'http://10.0.0.5/hook', 'http://localhost/hook', 'http://[::1]/hook', 'ftp://example.com/x']) {
      const answer = await adminFetch(stack, 'merchants', 'POST', '/v1/merchants', { name: 'x', currency: 'USD', webhook_url: url });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: { param: 'webhook_url' } });
    }
    const unknown = await adminFetch(stack, 'merchants', 'POST', '/v1/merchants', { name: 'x', currency: 'USD', colour: 'red' });
    expect(unknown.body).toMatchObject({ error: { code: 'unknown_parameter', param: 'colour' } });
    const ok = await adminFetch(stack, 'merchants', 'POST', '/v1/merchants', { name: 'x', currency: 'USD', webhook_url: 'https://hooks.example.com/paynet' });
    expect(ok.status).toBe(201);
  });

  it('re-sent with its Idempotency-Key after the first answer was lost, makes one merchant and one ledger account', async () => {
    const database = new pg.Client({ connectionString: stack.databaseUrl });
    await database.connect();
    const attempt = randomUUID();
    const name = `Retried ${attempt}`;
    const ledgerAccounts = async () =>
      (await database.query<{ count: number }>(`SELECT count(*)::int AS count FROM accounts.ledger_accounts WHERE owner_name = $1`, [name])).rows[0]?.count;
    const send = () => adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name, currency: 'EUR' }, { idempotencyKey: `onboard-${attempt}` });
    try {
      // accounts hangs: the command waits in its socket, and merchants' request times out.
      stack.neighbours.pause('accounts');
      let lost;
      try {
        lost = await send();
      } finally {
        stack.neighbours.resume('accounts');
      }
      expect(lost.status).toBe(503);
      // The first command still made its ledger account once accounts woke up.
      await waitFor(async () => (await ledgerAccounts()) === 1, { description: 'the ledger account of the first send' });
      const resent = await send();
      expect(resent.status).toBe(201);
      expect(await ledgerAccounts()).toBe(1);
      const merchants = await database.query<{ id: string; account_id: string }>('SELECT id, account_id FROM merchants.merchants WHERE name = $1', [name]);
      expect(merchants.rows).toEqual([{ id: resent.body.id, account_id: expect.stringMatching(/^acct_/) }]);
      const owned = await database.query('SELECT 1 FROM accounts.ledger_accounts WHERE id = $1 AND owner_name = $2', [merchants.rows[0]?.account_id, name]);
      expect(owned.rowCount).toBe(1);
    } finally {
      await database.end();
    }
  });

  it('sweeps every expired nonce in one pass, however many signed requests left them, and keeps those still in their window', async () => {
    const database = new pg.Client({ connectionString: stack.databaseUrl });
    await database.connect();
    const key = `mk_sweep_${randomUUID()}`;
    try {
      // Three times what one pass deleted before: more than 170 signed requests a second for a minute.
      await database.query(
        `INSERT INTO merchants.request_nonces (api_key_id, nonce, expires_at)
         SELECT $1, 'expired-' || n, now() - interval '1 second' - make_interval(secs => n % 600) FROM generate_series(1, 30000) AS n`,
        [key],
      );
      await database.query(
        `INSERT INTO merchants.request_nonces (api_key_id, nonce, expires_at)
         SELECT $1, 'fresh-' || n, now() + interval '10 minutes' + make_interval(secs => n) FROM generate_series(1, 50) AS n`,
        [key],
      );
      const sweeper = stack.apps['merchants']?.get(NonceSweeper) as NonceSweeper;
      await sweeper.sweepPass();
      const left = await database.query<{ nonce: string }>('SELECT nonce FROM merchants.request_nonces WHERE api_key_id = $1 ORDER BY nonce', [key]);
      expect(left.rows.map((row) => row.nonce)).toEqual(Array.from({ length: 50 }, (_, n) => `fresh-${n + 1}`).sort());
      const expired = await database.query<{ count: number }>('SELECT count(*)::int AS count FROM merchants.request_nonces WHERE expires_at < now()');
      expect(expired.rows[0]?.count).toBe(0);
    } finally {
      await database.end();
    }
  });
});
