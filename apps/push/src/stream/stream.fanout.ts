import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { type ConsumerMessages, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsNames } from '@paynet/contracts';
import { ensureEventsStream, NATS_CONNECTION, NATS_NAMES } from '@paynet/platform';
import { parseReceivedEvent } from '../events/received-event.js';
import { stream_fanout_lag_seconds } from '../push.metrics.js';
import { LivePosition } from './live-position.js';
import { RecentIds } from './recent-ids.js';
import { StreamGateway } from './stream.gateway.js';

/** Messages the ordered consumer pulls ahead. */
export const fanout_pull_batch_max = 256;
/** Event ids remembered to send an event published twice only once. */
export const fanout_recent_ids_max = 10_000;
export const fanout_restart_delay_ms = 1_000;

/**
 * Every replica sees every event: an ordered (ephemeral, unacknowledged)
 * consumer of its own, starting after the stream's last message at boot, and
 * resuming after the last one it delivered if it has to start over, so
 * nothing is skipped in between.
 */
@Injectable()
export class StreamFanout implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamFanout.name);
  private readonly recent = new RecentIds(fanout_recent_ids_max);
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly gateway: StreamGateway,
    private readonly position: LivePosition,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await ensureEventsStream(this.nc, this.names);
    // Live means from now: explicit start sequence, not DeliverPolicy.New, so a reset before the first message cannot replay the stream.
    const info = await (await jetstreamManager(this.nc)).streams.info(this.names.events_stream);
    this.position.next_seq = info.state.last_seq + 1;
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.consumeUntilClosed();
      } catch (error) {
        this.logger.warn({ err: error }, 'live fan-out stopped; restarting');
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, fanout_restart_delay_ms).unref());
    }
  }

  private async consumeUntilClosed(): Promise<void> {
    const consumer = await jetstream(this.nc).consumers.get(this.names.events_stream, { opt_start_seq: this.position.next_seq });
    const messages = await consumer.consume({ max_messages: fanout_pull_batch_max });
    this.messages = messages;
    if (this.stopped) await messages.close();
    for await (const message of messages) {
      // Before the broadcast: a connection registered from now on gets the next message live.
      this.position.next_seq = message.seq + 1;
      const parsed = parseReceivedEvent(message.string(), message.seq);
      // The durable consumer logs bad messages; here they are only skipped.
      if (!parsed.ok || !this.recent.firstTime(parsed.received.event.id)) continue;
      if (this.gateway.broadcast(parsed.received) > 0) stream_fanout_lag_seconds.observe(Math.max(0, Date.now() - message.info.timestampNanos / 1e6) / 1_000);
    }
  }
}
