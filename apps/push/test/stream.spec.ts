import { jest } from '@jest/globals';
import type { PlatformEvent } from '@paynet/contracts';
import { setTimeout as sleep } from 'node:timers/promises';
import { StreamClient, waitFor } from '@paynet/testing';
import { makeEvent, usePush } from './support/push-app.js';

/**
 * push's WebSocket stream against real PostgreSQL and NATS JetStream, with
 * real WebSocket clients; merchants and accounts are fakes answering on
 * push's NATS subjects.
 */
jest.setTimeout(60_000);
/** Waits on a loaded machine: generous, never a measure of speed. */
const timeout_ms = 15_000;

const push = usePush();
const clients: StreamClient[] = [];

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

async function stream(token: string, base_url = push.base_url): Promise<StreamClient> {
  const client = await StreamClient.open(base_url, token);
  clients.push(client);
  return client;
}

async function publishAll(events: PlatformEvent[]): Promise<void> {
  for (const event of events) await push.publish(event);
}

/** What a client saw, in order: events by id, other frames whole. */
function seen(client: StreamClient): unknown[] {
  return client.frames.map((frame) => (frame.type === 'event' ? frame.event.id : frame));
}

describe('push: WebSocket stream', () => {
  it('sends a merchant its own events, and none of another merchant', async () => {
    const alice = push.fakes.addMerchant(null);
    const bob = push.fakes.addMerchant(null);
    const alice_client = await stream(alice.stream_token);
    const bob_client = await stream(bob.stream_token);
    const for_alice = makeEvent({ merchant: alice.merchant_id });
    const for_bob = makeEvent({ merchant: bob.merchant_id });
    await push.publish(for_alice);
    await push.publish(for_bob);

    await waitFor(() => bob_client.eventIds().includes(for_bob.id), { description: 'bob gets his event', timeout_ms });
    await waitFor(() => alice_client.eventIds().includes(for_alice.id), { description: 'alice gets her event', timeout_ms });
    // The fan-out is ordered: bob got the later event, so alice's was already routed (not to him).
    expect(bob_client.eventIds()).toEqual([for_bob.id]);
    expect(alice_client.eventIds()).toEqual([for_alice.id]);
    expect(alice_client.frames[0]).toEqual({ type: 'event', event: for_alice });
  });

  // The holder's balance updates are written by accounts: apps/e2e/test/holder-balance.spec.ts hears the real ones on the stream.
  it("sends a holder the events of its account, and none of another holder's", async () => {
    const merchant = push.fakes.addMerchant(null);
    const holder = push.fakes.addHolder();
    const holder_client = await stream(holder.token);
    const merchant_client = await stream(merchant.stream_token);
    const paid = makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'payment_intent.succeeded' });
    const someone_else = makeEvent({ merchant: merchant.merchant_id, account: push.fakes.addHolder().account_id, type: 'payment_intent.succeeded' });
    const refunded = makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'refund.succeeded' });
    for (const event of [paid, someone_else, refunded]) await push.publish(event);

    await waitFor(() => merchant_client.eventIds().length === 3, { description: 'the merchant gets its three events', timeout_ms });
    await waitFor(() => holder_client.eventIds().length === 2, { description: 'the holder gets two events', timeout_ms });
    expect(holder_client.eventIds()).toEqual([paid.id, refunded.id]);
    expect(merchant_client.eventIds()).toEqual([paid.id, someone_else.id, refunded.id]);
  });

  it('refuses a bad or missing token with 401 and the API error body, before any upgrade', async () => {
    const unknown_stream_token = await StreamClient.refusal(push.base_url, 'st_doesnotexist');
    expect(unknown_stream_token).toEqual({
      status: 401,
      upgraded: false,
      body: { error: { type: 'authentication_error', code: 'invalid_token', message: expect.any(String) } },
    });
    const unknown_account_token = await StreamClient.refusal(push.base_url, 'at_doesnotexist');
    expect(unknown_account_token.status).toBe(401);
    const not_a_token = await StreamClient.refusal(push.base_url, 'hello');
    expect(not_a_token).toMatchObject({ status: 401, upgraded: false, body: { error: { code: 'invalid_token' } } });
    const missing = await StreamClient.refusal(push.base_url, null);
    expect(missing).toMatchObject({ status: 401, upgraded: false, body: { error: { type: 'authentication_error', code: 'authentication_required' } } });
  });

  it('answers a resume after an unknown or foreign event id with one resource_missing frame', async () => {
    const alice = push.fakes.addMerchant(null);
    const bob = push.fakes.addMerchant(null);
    const bobs_event = makeEvent({ merchant: bob.merchant_id });
    await push.publish(bobs_event);
    await waitFor(() => push.consumerIdle(), { description: 'push recorded the event', timeout_ms });
    const client = await stream(alice.stream_token);
    client.send({ type: 'resume', after: 'evt_unknown000000000' });
    client.send({ type: 'resume', after: bobs_event.id });
    await waitFor(() => client.frames.length === 2, { description: 'two answers', timeout_ms });
    for (const frame of client.frames) expect(frame).toMatchObject({ type: 'error', error: { code: 'resource_missing', message: expect.any(String) } });
  });

  it('sends an event published twice (different Nats-Msg-Id) to a client once', async () => {
    const merchant = push.fakes.addMerchant(null);
    const client = await stream(merchant.stream_token);
    const event = makeEvent({ merchant: merchant.merchant_id });
    const marker = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(event);
    await push.publish(event, `${event.id}:again`);
    await push.publish(marker);
    await waitFor(() => client.eventIds().includes(marker.id), { description: 'the marker arrives', timeout_ms });
    expect(client.eventIds()).toEqual([event.id, marker.id]);
  });
});


describe('push: resuming a stream', () => {
  /** A client that misses `missed` while disconnected; the witness, connected all along, shows the fan-out passed them. */
  async function missWhileAway(base_url = push.base_url) {
    const merchant = push.fakes.addMerchant(null);
    const witness = await stream(merchant.stream_token);
    const away = await stream(merchant.stream_token, base_url);
    const seen_before = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(seen_before);
    await waitFor(() => away.eventIds().includes(seen_before.id), { description: 'the client sees the first event', timeout_ms });
    await away.close();
    const someone_else = push.fakes.addMerchant(null);
    const missed = [makeEvent({ merchant: merchant.merchant_id }), makeEvent({ merchant: someone_else.merchant_id }), makeEvent({ merchant: merchant.merchant_id })];
    await publishAll(missed);
    const last = missed[2] as PlatformEvent;
    await waitFor(() => witness.eventIds().includes(last.id), { description: 'the fan-out passed the missed events', timeout_ms });
    return { merchant, seen_before, missed: [missed[0], missed[2]] as PlatformEvent[] };
  }

  it('replays each event missed while disconnected once, in order, then goes live', async () => {
    const { merchant, seen_before, missed } = await missWhileAway();
    const back = await stream(merchant.stream_token);
    back.send({ type: 'resume', after: seen_before.id });
    await waitFor(() => back.frames.some((frame) => frame.type === 'resumed'), { description: 'the resumed frame', timeout_ms });
    const live = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(live);
    await waitFor(() => back.eventIds().includes(live.id), { description: 'the live event', timeout_ms });
    expect(seen(back)).toEqual([...missed.map((event) => event.id), { type: 'resumed', recovered: true, replayed: 2 }, live.id]);
    expect(back.events[0]).toEqual(missed[0]);
  });

  it('resumes after an event the client had live before push recorded it, instead of calling it unknown', async () => {
    const merchant = push.fakes.addMerchant(null);
    const witness = await stream(merchant.stream_token);
    // The recorder is held (as after a push restart, which redelivers what it had not recorded); the fan-out is not.
    const release = push.fakes.holdEndpointLookups();
    try {
      const away = await stream(merchant.stream_token);
      const seen_live = makeEvent({ merchant: merchant.merchant_id });
      await push.publish(seen_live);
      await waitFor(() => away.eventIds().includes(seen_live.id), { description: 'the client sees the event live', timeout_ms });
      await away.close();
      const missed = makeEvent({ merchant: merchant.merchant_id });
      await push.publish(missed);
      await waitFor(() => witness.eventIds().includes(missed.id), { description: 'the fan-out passed the missed event', timeout_ms });
      const back = await stream(merchant.stream_token);
      back.send({ type: 'resume', after: seen_live.id });
      // Give push the resume while the event is still unrecorded (if it came later, the answer would be the same).
      await sleep(500);
      release();
      await waitFor(() => back.frames.some((frame) => frame.type !== 'event'), { description: 'the answer to the resume', timeout_ms });
      expect(seen(back)).toEqual([missed.id, { type: 'resumed', recovered: true, replayed: 1 }]);
    } finally {
      release();
    }
  });

  it('resumes on another replica than the one the client left', async () => {
    const other = await push.startReplica();
    const { merchant, seen_before, missed } = await missWhileAway();
    const back = await stream(merchant.stream_token, other.url);
    back.send({ type: 'resume', after: seen_before.id });
    const live = makeEvent({ merchant: merchant.merchant_id });
    await waitFor(() => back.frames.some((frame) => frame.type === 'resumed'), { description: 'the resumed frame', timeout_ms });
    await push.publish(live);
    await waitFor(() => back.eventIds().includes(live.id), { description: 'the live event', timeout_ms });
    expect(seen(back)).toEqual([...missed.map((event) => event.id), { type: 'resumed', recovered: true, replayed: 2 }, live.id]);
  });

  it('sends what is published during a replay after the missed events, each once, in order', async () => {
    const merchant = push.fakes.addMerchant(null);
    const witness = await stream(merchant.stream_token);
    const first = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(first);
    const missed = Array.from({ length: 30 }, () => makeEvent({ merchant: merchant.merchant_id }));
    await publishAll(missed);
    await waitFor(() => witness.eventIds().length === 31, { description: 'the fan-out passed the missed events', timeout_ms });
    const back = await stream(merchant.stream_token);
    back.send({ type: 'resume', after: first.id });
    const during = Array.from({ length: 30 }, () => makeEvent({ merchant: merchant.merchant_id }));
    await publishAll(during);
    await waitFor(() => back.eventIds().length >= 60, { description: 'every event', timeout_ms });
    expect(back.eventIds()).toEqual([...missed, ...during].map((event) => event.id));
    expect(back.others).toEqual([{ type: 'resumed', recovered: true, replayed: 30 }]);
  });

  it('resumes a holder with the events of its account', async () => {
    const merchant = push.fakes.addMerchant(null);
    const holder = push.fakes.addHolder();
    const witness = await stream(holder.token);
    const paid = makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'payment_intent.succeeded' });
    await push.publish(paid);
    const missed = [
      makeEvent({ merchant: null, account: holder.account_id, type: 'account.balance_updated' }),
      makeEvent({ merchant: merchant.merchant_id, account: null }),
      makeEvent({ merchant: merchant.merchant_id, account: holder.account_id, type: 'refund.succeeded' }),
    ];
    await publishAll(missed);
    await waitFor(() => witness.eventIds().length === 3, { description: 'the fan-out passed them', timeout_ms });
    const back = await stream(holder.token);
    back.send({ type: 'resume', after: paid.id });
    await waitFor(() => back.others.length === 1, { description: 'the resumed frame', timeout_ms });
    expect(seen(back)).toEqual([missed[0]?.id, missed[2]?.id, { type: 'resumed', recovered: true, replayed: 2 }]);
  });

  it('answers recovered: false after an event older than the retention, and stays live', async () => {
    const { merchant, seen_before } = await missWhileAway();
    await waitFor(() => push.consumerIdle(), { description: 'push recorded the events', timeout_ms });
    await push.database.query(`UPDATE events SET received_at = now() - interval '31 days' WHERE id = $1`, [seen_before.id]);
    const back = await stream(merchant.stream_token);
    back.send({ type: 'resume', after: seen_before.id });
    await waitFor(() => back.others.length === 1, { description: 'the resumed frame', timeout_ms });
    const live = makeEvent({ merchant: merchant.merchant_id });
    await push.publish(live);
    await waitFor(() => back.eventIds().includes(live.id), { description: 'the live event', timeout_ms });
    expect(seen(back)).toEqual([{ type: 'resumed', recovered: false }, live.id]);
  });

  it('answers recovered: false when more events were missed than a replay may carry', async () => {
    const small = await push.startReplica({ STREAM_REPLAY_EVENTS_MAX: '1' });
    const { merchant, seen_before, missed } = await missWhileAway();
    const too_many = await stream(merchant.stream_token, small.url);
    too_many.send({ type: 'resume', after: seen_before.id });
    const just_enough = await stream(merchant.stream_token, small.url);
    just_enough.send({ type: 'resume', after: missed[0]?.id });
    await waitFor(() => too_many.others.length === 1 && just_enough.others.length === 1, { description: 'both resumed frames', timeout_ms });
    expect(seen(too_many)).toEqual([{ type: 'resumed', recovered: false }]);
    expect(seen(just_enough)).toEqual([missed[1]?.id, { type: 'resumed', recovered: true, replayed: 1 }]);
  });
});
