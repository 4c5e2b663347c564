import { jest } from '@jest/globals';
import { eventually, makeEvent, type PushHarness, startPush } from './support/push-app.js';
import { StreamClient } from './support/stream-client.js';
import { WebhookReceiver } from '@paynet/testing';

/** Two push replicas on one database and one NATS prefix, as in a scaled-out deployment. */
jest.setTimeout(60_000);

let push: PushHarness;
let endpoint: WebhookReceiver;
const clients: StreamClient[] = [];

beforeAll(async () => {
  push = await startPush({ retry_scale: 0.0001 });
  endpoint = await WebhookReceiver.start();
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await push?.close();
  await endpoint?.close();
});

it('every replica streams every event to its own clients, while webhooks go out once in all', async () => {
  const second = await push.addReplica();
  const merchant = push.fakes.addMerchant(endpoint.url);
  const on_first = await StreamClient.open(push.base_url, merchant.stream_token);
  const on_second = await StreamClient.open(second.base_url, merchant.stream_token);
  clients.push(on_first, on_second);

  const events = Array.from({ length: 40 }, () => makeEvent({ merchant: merchant.merchant_id }));
  for (const event of events) await push.publish(event);
  const ids = events.map((event) => event.id);

  await eventually('the first replica streams all of them', () => on_first.eventIds().length === ids.length);
  await eventually('the second replica streams all of them', () => on_second.eventIds().length === ids.length);
  expect(on_first.eventIds()).toEqual(ids);
  expect(on_second.eventIds()).toEqual(ids);

  await eventually('both replicas are done with the shared consumer', () => push.consumerIdle());
  await eventually('every webhook arrives', () => new Set(endpoint.received.map((request) => request.headers['webhook-id'])).size === ids.length);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(endpoint.received).toHaveLength(ids.length);
});
