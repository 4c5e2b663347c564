import { jest } from '@jest/globals';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { StreamClient, waitFor } from '@paynet/testing';
import { makeEvent, usePush } from './support/push-app.js';

/** A stream resumed across a restart of every push replica: what was published while push was down is replayed. */
jest.setTimeout(90_000);
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 15_000;

const push = usePush();
const clients: StreamClient[] = [];

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

it('replays, after push restarts, each event published while it was down, once and in order', async () => {
  const merchant = push.fakes.addMerchant(null);
  const before = await StreamClient.open(push.base_url, merchant.stream_token);
  clients.push(before);
  const seen = makeEvent({ merchant: merchant.merchant_id });
  await push.publish(seen);
  await waitFor(() => before.eventIds().includes(seen.id), { description: 'the first event', timeout_ms });

  await (push.stack.apps['push'] as NestExpressApplication).close();
  await waitFor(() => before.close_code !== undefined, { description: 'the server closes the stream', timeout_ms });
  const missed = Array.from({ length: 5 }, () => makeEvent({ merchant: merchant.merchant_id }));
  for (const event of missed) await push.publish(event);

  const restarted = await push.startReplica();
  const after = await StreamClient.open(restarted.url, merchant.stream_token);
  clients.push(after);
  after.send({ type: 'resume', after: seen.id });
  await waitFor(() => after.others.length === 1, { description: 'the resumed frame', timeout_ms });
  const live = makeEvent({ merchant: merchant.merchant_id });
  await push.publish(live);
  await waitFor(() => after.eventIds().includes(live.id), { description: 'the live event', timeout_ms });

  expect(after.eventIds()).toEqual([...missed, live].map((event) => event.id));
  expect(after.others).toEqual([{ type: 'resumed', recovered: true, replayed: 5 }]);
  expect(before.close_code).toBe(1001);
});
