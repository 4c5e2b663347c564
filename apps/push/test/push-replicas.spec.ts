import { jest } from '@jest/globals';
import { StreamClient, waitFor, WebhookReceiver } from '@paynet/testing';
import { makeEvent, usePush } from './support/push-app.js';

/** Two push replicas on one database and one NATS prefix, as in a scaled-out deployment. */
jest.setTimeout(60_000);
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 15_000;

const push = usePush();
let endpoint: WebhookReceiver;
const clients: StreamClient[] = [];

beforeAll(async () => {
  endpoint = await WebhookReceiver.start();
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await endpoint?.close();
});

it('every replica streams every event to its own clients, while webhooks go out once in all', async () => {
  const second = await push.startReplica();
  const merchant = push.fakes.addMerchant(endpoint.url);
  const on_first = await StreamClient.open(push.base_url, merchant.stream_token);
  const on_second = await StreamClient.open(second.url, merchant.stream_token);
  clients.push(on_first, on_second);

  const events = Array.from({ length: 40 }, () => makeEvent({ merchant: merchant.merchant_id }));
  for (const event of events) await push.publish(event);
  const ids = events.map((event) => event.id);

  await waitFor(() => on_first.eventIds().length === ids.length, { description: 'the first replica streams all of them', timeout_ms });
  await waitFor(() => on_second.eventIds().length === ids.length, { description: 'the second replica streams all of them', timeout_ms });
  expect(on_first.eventIds()).toEqual(ids);
  expect(on_second.eventIds()).toEqual(ids);

  await waitFor(() => push.consumerIdle(), { description: 'both replicas are done with the shared consumer', timeout_ms });
  await waitFor(() => new Set(endpoint.received.map((request) => request.headers['webhook-id'])).size === ids.length, { description: 'every webhook arrives', timeout_ms });
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(endpoint.received).toHaveLength(ids.length);
});
