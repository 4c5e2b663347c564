import { jest } from '@jest/globals';
import type { MerchantObject, SignWebhookReply, SignWebhooksReply, WebhookEndpointObject } from '@paynet/contracts';
import { CredentialCache, ReplicaCensus } from '@paynet/platform';
import type { PaynetClient } from '@paynet/sdk';
import { signWebhook } from '@paynet/signatures';
import { type InProcessStack, onboardMerchant, type TcpProxy, waitFor } from '@paynet/testing';
import pg from 'pg';
import { WebhookEndpointsService } from '../src/webhook-endpoints/webhook-endpoints.service.js';
import { type Replica, useReplicas } from './replicas.js';

/**
 * What a webhook is signed with and sent to (an endpoint's URL, status and
 * secrets, opened) is kept by each merchants replica's credential cache, and
 * a change is still "at once" everywhere (docs/SECURITY.md, "Cache of
 * verified credentials"): once a rotation, a deletion or a URL change made
 * through replica B is answered, replica A signs as the database has it. A
 * third replica reaches NATS through a relay the test cuts. Each replica is
 * asked to sign directly (its WebhookEndpointsService, what the NATS handler
 * calls): over NATS the queue group would pick one.
 */
jest.setTimeout(180_000);

/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 20_000;
const endpoint_url = 'http://127.0.0.1:9/hooks';

type Endpoint = WebhookEndpointObject & { secret: string };

describe('merchants: the cache of webhook signing keys', () => {
  const replicas = useReplicas(timeout_ms);
  const { through } = replicas;
  let stack: InProcessStack;
  let proxy: TcpProxy;
  let a: Replica;
  let b: Replica;
  let cut: Replica;
  let webhooks_signed = 0;
  beforeAll(() => ({ stack, proxy, a, b, cut } = replicas));

  async function createEndpoint(client: PaynetClient, url = endpoint_url): Promise<Endpoint> {
    const created = await client.request<Endpoint>('POST', '/v1/webhook-endpoints', { url });
    expect(created.status).toBe(201);
    return created.body;
  }

  async function rotateSecret(client: PaynetClient, endpoint: { id: string }, grace_seconds: number): Promise<string> {
    const rotated = await client.request<Endpoint>('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { grace_seconds });
    expect(rotated.status).toBe(200);
    return rotated.body.secret;
  }

  /** What `replica` answers push for one webhook to this endpoint, and what it should be when signed with `secrets` (newest first). */
  async function signedBy(replica: Replica, merchant: MerchantObject, endpoint_id: string | undefined, secrets: readonly string[] = []) {
    const webhook = { merchant_id: merchant.id, msg_id: `evt_${++webhooks_signed}`, timestamp: Math.floor(Date.now() / 1000), payload: '{"id":"evt"}' };
    const reply: SignWebhooksReply = await replica.app.get(WebhookEndpointsService).sign({ webhooks: [{ ...webhook, ...(endpoint_id === undefined ? {} : { endpoint_id }) }] });
    const answer = reply.signed[0] as SignWebhookReply;
    const expected = secrets.map((secret) => signWebhook({ secret, msg_id: webhook.msg_id, timestamp: webhook.timestamp, payload: webhook.payload })).join(' ');
    return { url: answer.url, signature: answer.signature, expected };
  }

  /** Changes the database behind every service's back (no broadcast at all): only a replica that reads the row can know. */
  async function behindTheirBacks(sql: string, parameters: unknown[]): Promise<void> {
    const owner = new pg.Client({ connectionString: stack.databaseUrl });
    await owner.connect();
    try {
      await owner.query(sql, parameters);
    } finally {
      await owner.end();
    }
  }

  it('a secret rotated through B with grace_seconds 0 is no longer signed with by any replica once the rotation is answered', async () => {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD' });
    const endpoint = await createEndpoint(through(a, merchant));
    for (const replica of [a, b, cut]) {
      for (let time = 0; time < 2; time++) {
        const signed = await signedBy(replica, merchant, endpoint.id, [endpoint.secret]);
        expect(signed.signature).toBe(signed.expected);
      }
    }

    const rotated = await rotateSecret(through(b, merchant), endpoint, 0);

    for (const replica of [a, b, cut]) {
      const signed = await signedBy(replica, merchant, endpoint.id, [rotated]);
      expect(signed.signature).toBe(signed.expected);
    }
  });

  it('during a rotation grace every replica signs with both secrets, the new one first; a rotation ending the grace drops the old one everywhere', async () => {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD' });
    const endpoint = await createEndpoint(through(a, merchant));
    for (const replica of [a, b, cut]) expect((await signedBy(replica, merchant, endpoint.id, [endpoint.secret])).signature).toBeTruthy();

    const second = await rotateSecret(through(b, merchant), endpoint, 3_600);
    for (const replica of [a, b, cut]) {
      const signed = await signedBy(replica, merchant, endpoint.id, [second, endpoint.secret]);
      expect(signed.signature).toBe(signed.expected);
    }

    const third = await rotateSecret(through(a, merchant), endpoint, 0);
    for (const replica of [b, cut, a]) {
      const signed = await signedBy(replica, merchant, endpoint.id, [third]);
      expect(signed.signature).toBe(signed.expected);
    }
  });

  it('an endpoint deleted or disabled through B, or given a new URL, is no longer signed for by A once that is answered', async () => {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD', webhook_url: endpoint_url });
    const first = merchant.webhook_secret as string;
    const second = await createEndpoint(through(a, merchant));
    // The first endpoint (made at onboarding) also answers deliveries that name no endpoint.
    for (const endpoint_id of [undefined, second.id]) expect((await signedBy(a, merchant, endpoint_id)).url).toBe(endpoint_url);

    const moved = await through(b, merchant).request('POST', `/v1/webhook-endpoints/${second.id}`, { url: `${endpoint_url}/moved` });
    expect(moved.status).toBe(200);
    const signed = await signedBy(a, merchant, second.id, [second.secret]);
    expect(signed).toEqual({ url: `${endpoint_url}/moved`, signature: signed.expected, expected: signed.expected });

    const off = await through(b, merchant).request('POST', `/v1/webhook-endpoints/${second.id}`, { status: 'disabled' });
    expect(off.status).toBe(200);
    expect((await signedBy(a, merchant, second.id)).url).toBeNull();
    const on = await through(b, merchant).request('POST', `/v1/webhook-endpoints/${second.id}`, { status: 'enabled' });
    expect(on.status).toBe(200);
    expect((await signedBy(a, merchant, second.id)).url).toBe(`${endpoint_url}/moved`);

    const deleted = await through(b, merchant).request('DELETE', `/v1/webhook-endpoints/${second.id}`);
    expect(deleted.status).toBe(200);
    expect((await signedBy(a, merchant, second.id)).url).toBeNull();

    const unsigned = await signedBy(a, merchant, undefined, [first]);
    expect(unsigned.signature).toBe(unsigned.expected);
    const disabled = await through(b, merchant).request('POST', `/v1/merchants/${merchant.id}/webhook-endpoint`, { url: null });
    expect(disabled.status).toBe(200);
    expect((await signedBy(a, merchant, undefined)).url).toBeNull();
  });

  it('a replica that cannot hear NATS signs as the database has it; once it hears again it keeps signing keys, and is told when they change', async () => {
    const merchant = await onboardMerchant(stack, { name: 'Shop', currency: 'USD' });
    const endpoint = await createEndpoint(through(a, merchant));
    expect((await signedBy(cut, merchant, endpoint.id)).url).toBe(endpoint_url);
    expect((await signedBy(a, merchant, endpoint.id)).url).toBe(endpoint_url);

    await proxy.cut();
    await waitFor(() => a.app.get(ReplicaCensus).replicas === 2, { description: 'the others no longer hear the cut replica', timeout_ms });
    await behindTheirBacks('UPDATE merchants.webhook_endpoints SET url = $2 WHERE id = $1', [endpoint.id, `${endpoint_url}/changed`]);
    expect((await signedBy(cut, merchant, endpoint.id)).url).toBe(`${endpoint_url}/changed`);
    // The control: a replica that hears had kept the key and, told nothing, still signs from its cache.
    expect((await signedBy(a, merchant, endpoint.id)).url).toBe(endpoint_url);

    // While cut, a rotation through another replica is answered (the cut one is waited out), and the cut one signs with the new secret.
    const other = await onboardMerchant(stack, { name: 'Other', currency: 'USD' });
    const other_endpoint = await createEndpoint(through(a, other));
    expect((await signedBy(cut, other, other_endpoint.id)).url).toBe(endpoint_url);
    const rotated = await rotateSecret(through(a, other), other_endpoint, 0);
    const while_cut = await signedBy(cut, other, other_endpoint.id, [rotated]);
    expect(while_cut.signature).toBe(while_cut.expected);

    await proxy.restore();
    await waitFor(() => cut.app.get(CredentialCache).hearing() && a.app.get(ReplicaCensus).replicas === 3, { description: 'the replica hears again', timeout_ms });
    expect((await signedBy(cut, other, other_endpoint.id)).url).toBe(endpoint_url);
    await behindTheirBacks('UPDATE merchants.webhook_endpoints SET url = $2 WHERE id = $1', [other_endpoint.id, `${endpoint_url}/later`]);
    expect((await signedBy(cut, other, other_endpoint.id)).url).toBe(endpoint_url);
    const again = await rotateSecret(through(b, other), other_endpoint, 0);
    const heard = await signedBy(cut, other, other_endpoint.id, [again]);
    expect(heard).toEqual({ url: `${endpoint_url}/later`, signature: heard.expected, expected: heard.expected });
  });
});
