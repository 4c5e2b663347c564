import { jest } from '@jest/globals';
import { Subjects, type VerifyAccountTokenReply } from '@paynet/contracts';
import { CredentialCache, ReplicaCensus } from '@paynet/platform';
import { type InProcessStack, jsonFetch, startInProcess, TcpProxy, waitFor } from '@paynet/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import pg from 'pg';
import { AppModule } from '../src/app.module.js';
import { accounts_config_schema } from '../src/config.js';
import { fundedWallet } from './support.js';

/**
 * Holder tokens are kept by each accounts replica's credential cache, and a
 * rotation is still "at once" everywhere (docs/SECURITY.md, "Cache of
 * verified credentials"): three replicas, one of them reaching NATS through a
 * relay the test can cut.
 */
jest.setTimeout(120_000);

/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 20_000;

const definition = { service: 'accounts' as const, schema: accounts_config_schema, module: AppModule.forConfig };

describe('accounts: the cache of verified holder tokens', () => {
  let stack: InProcessStack;
  let proxy: TcpProxy;
  /** [first, second, cut-able]: their URLs and apps. */
  const replicas: { url: string; app: NestExpressApplication }[] = [];

  beforeAll(async () => {
    stack = await startInProcess([definition]);
    proxy = await TcpProxy.start(stack.nats.url);
    replicas.push({ url: stack.urls['accounts'] as string, app: stack.apps['accounts'] as NestExpressApplication });
    replicas.push(await stack.startReplica(definition));
    replicas.push(await stack.startReplica({ ...definition, env: { NATS_URL: proxy.urlFor(stack.nats.url) } }));
    await waitFor(() => replicas.every(({ app }) => app.get(ReplicaCensus).replicas === 3 && app.get(CredentialCache).hearing()), {
      description: 'every replica hears the others and its invalidations',
      timeout_ms,
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  function read(url: string, account_id: string, token: string) {
    return jsonFetch(`${url}/v1/accounts/${account_id}`, { headers: { authorization: `Bearer ${token}` } });
  }

  async function rotate(url: string, account_id: string, bearer: string): Promise<string> {
    const answer = await jsonFetch<{ token: string }>(`${url}/v1/accounts/${account_id}/token/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}` },
    });
    expect(answer.status).toBe(200);
    return answer.body.token;
  }

  it('refuses a rotated token at once on every replica, though each had just accepted it (and kept it)', async () => {
    const wallet = await fundedWallet(stack, 0);
    const old_token = wallet.token as string;
    for (const { url } of replicas) expect((await read(url, wallet.id, old_token)).status).toBe(200);
    // What payments asks (over NATS, any replica): kept too.
    await expect(stack.rpc.request<VerifyAccountTokenReply>(Subjects.accounts.tokensVerify, { token: old_token })).resolves.toMatchObject({ account_id: wallet.id });

    const new_token = await rotate((replicas[1] as { url: string }).url, wallet.id, old_token);

    for (const { url } of replicas) {
      const refused = await read(url, wallet.id, old_token);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ error: { code: 'invalid_token' } });
      expect((await read(url, wallet.id, new_token)).status).toBe(200);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(stack.rpc.request(Subjects.accounts.tokensVerify, { token: old_token })).rejects.toMatchObject({ status: 401 });
    }
  });

  it('a replica that cannot hear NATS checks every token in the database, and keeps tokens again once it hears', async () => {
    const wallet = await fundedWallet(stack, 0);
    const token = wallet.token as string;
    const [first, , cut] = replicas as [(typeof replicas)[0], (typeof replicas)[0], (typeof replicas)[0]];
    expect((await read(cut.url, wallet.id, token)).status).toBe(200);
    expect((await read(first.url, wallet.id, token)).status).toBe(200);

    await proxy.cut();
    await waitFor(() => first.app.get(ReplicaCensus).replicas === 2, { description: 'the others no longer hear the cut replica', timeout_ms });
    // Taken back behind every service's back (no broadcast at all): only a replica that reads the row can know.
    const owner = new pg.Client({ connectionString: stack.databaseUrl });
    await owner.connect();
    try {
      await owner.query(`UPDATE accounts.ledger_accounts SET token_hash = 'revoked-by-hand' WHERE id = $1`, [wallet.id]);
    } finally {
      await owner.end();
    }
    const refused = await read(cut.url, wallet.id, token);
    expect(refused.status).toBe(401);
    // The control: a replica that hears had kept the token and, told nothing, still answers from its cache.
    expect((await read(first.url, wallet.id, token)).status).toBe(200);

    // While cut, a rotation through another replica is answered (the cut one is waited out), and refused by it.
    const other = await fundedWallet(stack, 0);
    expect((await read(cut.url, other.id, other.token as string)).status).toBe(200);
    const rotated = await rotate(first.url, other.id, other.token as string);
    expect((await read(cut.url, other.id, other.token as string)).status).toBe(401);

    await proxy.restore();
    await waitFor(() => cut.app.get(CredentialCache).hearing(), { description: 'the replica hears again', timeout_ms });
    expect((await read(cut.url, other.id, rotated)).status).toBe(200);
    const again = await rotate(first.url, other.id, rotated);
    expect((await read(cut.url, other.id, rotated)).status).toBe(401);
    expect((await read(cut.url, other.id, again)).status).toBe(200);
  });
});
