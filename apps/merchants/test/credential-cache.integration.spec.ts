import { jest } from '@jest/globals';
import type { MerchantObject } from '@paynet/contracts';
import { CredentialCache, ReplicaCensus } from '@paynet/platform';
import type { PaynetClient } from '@paynet/sdk';
import { type InProcessStack, onboardMerchant, type TcpProxy, waitFor } from '@paynet/testing';
import pg from 'pg';
import { type Replica, useReplicas } from './replicas.js';

/**
 * API keys are kept by each merchants replica's credential cache, and a
 * rotation is still "at once" everywhere (docs/SECURITY.md, "Cache of
 * verified credentials"): a key used through replica A, then rotated through
 * replica B, is refused by A as soon as B answered. A third replica reaches
 * NATS through a relay the test cuts. accounts runs beside as a process.
 */
jest.setTimeout(180_000);

/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 20_000;

describe('merchants: the cache of verified API keys', () => {
  const replicas = useReplicas(timeout_ms);
  const { through } = replicas;
  let stack: InProcessStack;
  let proxy: TcpProxy;
  let a: Replica;
  let b: Replica;
  let cut: Replica;
  beforeAll(() => ({ stack, proxy, a, b, cut } = replicas));

  async function status(client: PaynetClient, merchant: MerchantObject): Promise<number> {
    return (await client.request('GET', `/v1/merchants/${merchant.id}`)).status;
  }

  async function rotate(client: PaynetClient, merchant: MerchantObject, grace_seconds: number): Promise<MerchantObject> {
    const answer = await client.request<MerchantObject>('POST', `/v1/merchants/${merchant.id}/api-keys/rotate`, { grace_seconds });
    expect(answer.status).toBe(200);
    return { ...merchant, ...answer.body };
  }

  it('a key used through A, rotated through B with grace_seconds 0, is refused by A at once', async () => {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD' });
    expect(await status(through(a, merchant), merchant)).toBe(200);
    expect(await status(through(a, merchant), merchant)).toBe(200);

    const rotated = await rotate(through(b, merchant), merchant, 0);

    const refused = await through(a, merchant).request('GET', `/v1/merchants/${merchant.id}`);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect(await status(through(b, merchant), merchant)).toBe(401);
    expect(await status(through(a, rotated), rotated)).toBe(200);
  });

  it('a key rotated through B with a grace period may only read through A at once (its end moved)', async () => {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD' });
    expect(await status(through(a, merchant), merchant)).toBe(200);

    await rotate(through(b, merchant), merchant, 3_600);

    expect(await status(through(a, merchant), merchant)).toBe(200);
    const managing = await through(a, merchant).request('POST', `/v1/merchants/${merchant.id}/api-keys/rotate`, { grace_seconds: 0 });
    expect(managing.status).toBe(403);
  });

  it('a replica that cannot hear NATS checks every key in the database, and keeps keys again once it hears', async () => {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD' });
    expect(await status(through(cut, merchant), merchant)).toBe(200);
    expect(await status(through(a, merchant), merchant)).toBe(200);

    await proxy.cut();
    await waitFor(() => a.app.get(ReplicaCensus).replicas === 2, { description: 'the others no longer hear the cut replica', timeout_ms });
    // Revoked behind every service's back (no broadcast at all): only a replica that reads the row can know.
    const owner = new pg.Client({ connectionString: stack.databaseUrl });
    await owner.connect();
    try {
      await owner.query('UPDATE merchants.api_keys SET expires_at = now() WHERE id = $1', [merchant.api_key]);
    } finally {
      await owner.end();
    }
    expect(await status(through(cut, merchant), merchant)).toBe(401);
    // The control: a replica that hears had kept the key and, told nothing, still answers from its cache.
    expect(await status(through(a, merchant), merchant)).toBe(200);

    // While cut, a rotation through another replica is answered (the cut one is waited out), and refused by it.
    const other = await onboardMerchant(stack, { name: 'Other', currency: 'USD' });
    expect(await status(through(cut, other), other)).toBe(200);
    const rotated = await rotate(through(a, other), other, 0);
    expect(await status(through(cut, other), other)).toBe(401);

    await proxy.restore();
    await waitFor(() => cut.app.get(CredentialCache).hearing(), { description: 'the replica hears again', timeout_ms });
    expect(await status(through(cut, rotated), rotated)).toBe(200);
    const again = await rotate(through(b, rotated), rotated, 0);
    expect(await status(through(cut, rotated), rotated)).toBe(401);
    expect(await status(through(cut, again), again)).toBe(200);
  });
});
