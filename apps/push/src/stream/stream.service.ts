import { Inject, Injectable } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, type NatsNames } from '@paynet/contracts';
import { CONFIG, NATS_CONNECTION, NATS_NAMES } from '@paynet/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import type { PushConfig } from '../config.js';
import { consumer_name } from '../events/events.consumer.js';
import { eventsBetween, findOwnedEvent } from '../events/events.repository.js';
import type { StreamPrincipal } from './connection-registry.js';
import { errorFrame, eventFrame, parseClientMessage } from './stream.frames.js';

/** How long a resume waits for the recorder to store what the live fan-out has already passed. */
export const resume_record_wait_ms = 10_000;
export const resume_record_poll_ms = 50;

export interface ReplayedEvent {
  seq: number;
  frame: string;
}

/** What to do with one client message. */
export type StreamAnswer =
  | { kind: 'error'; frame: string }
  /** Send these (the events missed, oldest first), then `resumed`. */
  | { kind: 'replay'; events: ReplayedEvent[] }
  /** Too old or too many: `resumed` with `recovered: false`. */
  | { kind: 'unrecoverable' }
  /** The recorder is behind the fan-out: the gap cannot be read yet; the client should resume again shortly. */
  | { kind: 'not_ready' };

/**
 * Resume: a connection gets live every event from `live_from_seq` on (the
 * fan-out's position when it was registered); the events it missed before
 * that are read from push's recorded copy, once the durable consumer has
 * recorded everything below that position. The two ranges meet exactly, so
 * nothing is missed or sent twice. WebSocket plumbing stays in the gateway.
 */
@Injectable()
export class StreamService {
  private jsm: Promise<JetStreamManager> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: PushConfig,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
  ) {}

  async answer(principal: StreamPrincipal, text: string, live_from_seq: number): Promise<StreamAnswer> {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) return { kind: 'error', frame: parsed.frame };
    const find = () => findOwnedEvent(this.dataSource.manager, principal, parsed.message.after, this.config.EVENT_RETENTION_DAYS);
    let after = await find();
    if (after === undefined) {
      // The client may have had it live before the recorder stored it (the fan-out and the recorder are different
      // consumers; a push restart in between redelivers it to the recorder): unknown only once the recorder caught up.
      if (!(await this.recordedBelow(live_from_seq))) return { kind: 'not_ready' };
      after = await find();
    }
    if (after === undefined) return { kind: 'error', frame: errorFrame(ErrorCode.resource_missing, `No such event: '${parsed.message.after}'`) };
    if (after.expired) return { kind: 'unrecoverable' };
    // Already live from before `after`: nothing lies in between.
    if (Number(after.stream_seq) >= live_from_seq - 1) return { kind: 'replay', events: [] };
    if (!(await this.recordedBelow(live_from_seq))) return { kind: 'not_ready' };
    const replay_max = this.config.STREAM_REPLAY_EVENTS_MAX;
    const rows = await eventsBetween(this.dataSource.manager, principal, { after_seq: after.stream_seq, before_seq: live_from_seq, limit: replay_max + 1 });
    if (rows.length > replay_max) return { kind: 'unrecoverable' };
    return { kind: 'replay', events: rows.map((row) => ({ seq: Number(row.stream_seq), frame: eventFrame(row.payload) })) };
  }

  /** Waits (bounded) until the durable consumer has recorded every event below `seq`. */
  private async recordedBelow(seq: number): Promise<boolean> {
    this.jsm ??= jetstreamManager(this.nc);
    const jsm = await this.jsm;
    const deadline = Date.now() + resume_record_wait_ms;
    for (;;) {
      const info = await jsm.consumers.info(this.names.events_stream, consumer_name);
      if (info.ack_floor.stream_seq >= seq - 1 || (info.num_pending === 0 && info.num_ack_pending === 0)) return true;
      if (Date.now() >= deadline) return false;
      await sleep(resume_record_poll_ms);
    }
  }
}
