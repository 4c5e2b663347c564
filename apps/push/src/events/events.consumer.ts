import { Inject, Injectable, Logger, BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JsMsg,
  ReplayPolicy,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { NatsNames } from '@paynet/contracts';
import { ensureEventsStream, NATS_CONNECTION, NATS_NAMES } from '@paynet/platform';
import { events_recorded_total } from '../push.metrics.js';
import { WriteBatcher } from '../webhooks/write-batcher.js';
import { EventsService } from './events.service.js';
import { parseReceivedEvent, type ReceivedEvent } from './received-event.js';

/** The durable consumer every push replica shares: each event is processed by one of them. */
export const consumer_name = 'push';
/** Unacknowledged this long, a message goes to another replica (one record takes well under this). */
export const consumer_ack_wait_ms = 30_000;
/** Messages handed out and not yet acknowledged, across replicas. */
export const consumer_ack_pending_max = 1_024;
/** Events recorded by one statement at most. */
export const consumer_record_batch_max = 256;
/**
 * A record starts at least this long after the previous one started (unless
 * a full batch is waiting): however fast events come, at most about 7
 * recording transactions a second per replica, each with every event that
 * arrived meanwhile and the webhook outcomes waiting for a record (carried
 * along). An event after a quiet spell is recorded at once. Under saturating
 * load events come a few to 10 ms apart (three per payment), so recording
 * them as they came cost more than one transaction per payment; spaced, it
 * is about 7 / (payments per second). The wait is on the way to a webhook
 * (its delivery is made by the record) and to a resume's replay (it waits for
 * the record), not to the live stream: the fan-out is another consumer.
 */
export const consumer_record_spacing_ms = 150;
/** Messages pulled ahead of recording: one batch being written and the next one gathering. */
export const consumer_pull_batch_max = 2 * consumer_record_batch_max;
/** A failed message comes back after this, doubled on each redelivery up to the maximum. */
export const consumer_retry_delay_ms = 1_000;
export const consumer_retry_delay_ms_max = 60_000;
/** After the subscription itself fails, wait this long before consuming again. */
export const consumer_restart_delay_ms = 1_000;

/**
 * At-least-once in, exactly-once effects out: the messages that arrived
 * together (within consumer_record_spacing_ms of the last record) are
 * recorded in one transaction (deduped by event id) and each is acknowledged
 * only after that commit.
 */
@Injectable()
export class EventsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(EventsConsumer.name);
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly events: EventsService,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // push may start before payments: the stream must exist before a consumer on it.
    await ensureEventsStream(this.nc, this.names);
    await this.ensureConsumer();
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.loop;
  }

  /** Creates the durable consumer, or brings an existing one to this configuration. */
  private async ensureConsumer(): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const config: Partial<ConsumerConfig> = {
      durable_name: consumer_name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanos(consumer_ack_wait_ms),
      // Unlimited on purpose: an event is never dropped because merchants or the database was down for a while.
      max_deliver: -1,
      max_ack_pending: consumer_ack_pending_max,
      filter_subject: this.names.events_filter,
    };
    try {
      await jsm.consumers.add(this.names.events_stream, config);
    } catch (error) {
      this.logger.log({ err: error }, 'durable consumer exists with other settings; updating it');
      const { ack_wait, max_deliver, max_ack_pending, filter_subject } = config;
      await jsm.consumers.update(this.names.events_stream, consumer_name, { ack_wait, max_deliver, max_ack_pending, filter_subject });
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.consumeUntilClosed();
      } catch (error) {
        this.logger.warn({ err: error }, 'event consumer stopped; restarting');
      }
      if (!this.stopped) await sleep(consumer_restart_delay_ms);
    }
  }

  private async consumeUntilClosed(): Promise<void> {
    await this.ensureConsumer();
    const consumer = await jetstream(this.nc).consumers.get(this.names.events_stream, consumer_name);
    const messages = await consumer.consume({ max_messages: consumer_pull_batch_max });
    this.messages = messages;
    if (this.stopped) await messages.close();
    this.watch(messages);
    const batcher = new WriteBatcher<JsMsg, void>(
      async (batch) => {
        await this.handle(batch);
        return batch.map(() => undefined);
      },
      { batch_max: consumer_record_batch_max, spacing_ms: consumer_record_spacing_ms },
    );
    let last_added: Promise<void> = Promise.resolve();
    for await (const message of messages) {
      // handle() settles every message itself (ack, nak or term); an unexpected error leaves them to the ack wait.
      last_added = batcher.add(message).catch((error: unknown) => this.logger.error({ err: error }, 'could not record a batch of events'));
      // Bounded: past a full batch queued, wait for the writes in progress (they go in order: the last added is written last).
      if (batcher.queued >= consumer_record_batch_max) await last_added;
    }
    await last_added;
  }

  /** A deleted consumer does not come back by itself: recreate it. */
  private watch(messages: ConsumerMessages): void {
    (async () => {
      for await (const status of messages.status()) {
        if (status.type === 'consumer_deleted' || status.type === 'consumer_not_found') {
          this.logger.warn({ status: status.type }, 'durable consumer missing; recreating it');
          await this.ensureConsumer().catch((error: unknown) => this.logger.warn({ err: error }, 'could not recreate the consumer'));
        }
      }
    })().catch(() => undefined);
  }

  /**
   * Records one batch (carrying the webhook outcomes waiting for a record)
   * and acknowledges it after commit; a batch that fails is tried again event
   * by event without them, so one bad event or outcome holds up only itself.
   */
  private async handle(batch: readonly JsMsg[]): Promise<void> {
    const valid: { message: JsMsg; received: ReceivedEvent }[] = [];
    for (const message of batch) {
      const parsed = parseReceivedEvent(message.string(), message.seq);
      if (parsed.ok) {
        valid.push({ message, received: parsed.received });
        continue;
      }
      // It can never be recorded; redelivering it forever would only block its slot.
      this.logger.error({ stream_seq: message.seq, reason: parsed.reason }, 'dropping a message that is not an event');
      events_recorded_total.inc({ result: 'invalid' });
      message.term(parsed.reason);
    }
    if (valid.length === 0) return;
    try {
      await this.recordAndAck(valid, { carry_outcomes: true });
    } catch (error) {
      // Without the webhook outcomes it carried (given back to the worker): they cannot hold up an event either.
      this.logger.warn({ err: error, events: valid.length }, 'could not record a batch of events; recording them one by one');
      for (const one of valid) {
        await this.recordAndAck([one], { carry_outcomes: false }).catch((single_error: unknown) => this.retryLater(one, single_error));
      }
    }
  }

  private async recordAndAck(batch: readonly { message: JsMsg; received: ReceivedEvent }[], options: { carry_outcomes: boolean }): Promise<void> {
    const inserted = await this.events.record(batch.map(({ received }) => received), options);
    const counted = new Set<string>();
    for (const { message, received } of batch) {
      const id = received.event.id;
      events_recorded_total.inc({ result: inserted.has(id) && !counted.has(id) ? 'recorded' : 'duplicate' });
      counted.add(id);
      message.ack();
    }
  }

  private retryLater({ message, received }: { message: JsMsg; received: ReceivedEvent }, error: unknown): void {
    const delay_ms = Math.min(consumer_retry_delay_ms * 2 ** Math.min(message.info.deliveryCount - 1, 16), consumer_retry_delay_ms_max);
    this.logger.warn({ err: error, event: received.event.id, retry_in_ms: delay_ms }, 'could not record an event; it will come back');
    events_recorded_total.inc({ result: 'retry' });
    message.nak(delay_ms);
  }
}

function sleep(timeout_ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, timeout_ms).unref());
}
