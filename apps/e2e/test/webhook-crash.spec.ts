import type { MerchantObject, WebhookDeliveryObject } from '@paynet/contracts';
import { adminFetch, merchantClient, waitFor, WebhookReceiver } from '@paynet/testing';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { useEndToEndWorld } from './world.js';

type List<T> = { object: 'list'; data: T[]; has_more: boolean };

/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 30_000;
/** push's claim of a delivery (30 s from when the recorder made it) must run out before another push may attempt it. */
const lease_timeout_ms = 120_000;

/**
 * push's recorder makes an event's delivery already claimed, in the
 * statement that records the event, and the worker attempts it right after
 * the commit. A push killed (-9) in the middle of that attempt has recorded
 * nothing of it: the delivery must be attempted again once the claim's lease
 * runs out, by the push that comes back, never lost.
 */
describe('a webhook whose push is killed during the attempt', () => {
  const world = useEndToEndWorld();
  let receiver: WebhookReceiver;
  let database: pg.Pool;

  beforeAll(async () => {
    // The first request is held unanswered: push is killed while it waits for the answer.
    receiver = await WebhookReceiver.start((n) => (n === 0 ? { status: 200, hold: true } : { status: 200 }));
    database = new pg.Pool({ connectionString: world.stack.databaseUrl, max: 1 });
  });

  afterAll(async () => {
    await database?.end();
    await receiver?.close();
  });

  it('is attempted again after the restart, signed, and recorded as succeeded', async () => {
    const { stack } = world;
    const created = await adminFetch<MerchantObject>(stack, 'merchants', 'POST', '/v1/merchants', { name: 'Shop', currency: 'USD', webhook_url: receiver.url });
    expect(created.status).toBe(201);
    const merchant = created.body;
    const client = merchantClient(stack, merchant);
    await client.createPaymentIntent({ amount: 1_000, currency: 'USD', reference: 'crash' });

    await waitFor(() => receiver.holding === 1, { description: 'the first attempt reaches the endpoint and is held', timeout_ms });
    const event_id = String(receiver.received[0]?.headers['webhook-id']);
    const claimed = await database.query('SELECT status, attempts, claim_id IS NOT NULL AS claimed FROM push.webhook_deliveries WHERE event_id = $1', [event_id]);
    // Claimed by the recorder's own statement, nothing recorded of the attempt yet.
    expect(claimed.rows).toEqual([{ status: 'pending', attempts: 0, claimed: true }]);

    await stack.kill('push');
    await stack.restart('push');

    const [again] = await waitFor(() => receiver.requestsFor(event_id).length >= 2 && receiver.requestsFor(event_id).slice(1), {
      description: 'the webhook is attempted again after the lease ran out',
      timeout_ms: lease_timeout_ms,
      interval_ms: 500,
    });
    const signed = new Webhook(merchant.webhook_secret as string).verify(again?.body ?? '', again?.headers as Record<string, string>) as { id: string };
    expect(signed.id).toBe(event_id);
    const [delivery] = await waitFor(
      async () => {
        const list = (await client.request<List<WebhookDeliveryObject>>('GET', `/v1/webhook-deliveries?event=${event_id}`)).body.data;
        return list[0]?.status === 'succeeded' && list;
      },
      { description: 'the delivery reads succeeded', timeout_ms },
    );
    // The killed attempt was never recorded: one attempt counted, one delivery, at least one webhook.
    expect(delivery).toMatchObject({ event: event_id, status: 'succeeded', attempts: 1, last_status_code: 200 });
  });
});
