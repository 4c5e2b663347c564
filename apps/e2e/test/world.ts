import { type Stack, startStack, type StreamClient, WebhookReceiver } from '@paynet/testing';

/** What an end-to-end spec runs against: all four services as processes, a webhook endpoint, the streams it opens. */
export interface EndToEndWorld {
  stack: Stack;
  receiver: WebhookReceiver;
  /** Closed after the spec. */
  streams: StreamClient[];
}

/** Starts the world before the spec's tests and stops it after them; its fields are set once beforeAll has run. */
export function useEndToEndWorld(): EndToEndWorld {
  const world = { streams: [] as StreamClient[] } as EndToEndWorld;
  beforeAll(async () => {
    [world.stack, world.receiver] = await Promise.all([startStack(), WebhookReceiver.start()]);
  });
  afterAll(async () => {
    await Promise.all(world.streams.map((stream) => stream.close()));
    await world.receiver?.close();
    await world.stack?.stop();
  });
  return world;
}
