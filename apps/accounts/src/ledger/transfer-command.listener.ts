import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ApiError, type NatsNames, queue_groups, Subjects, type TransferReply } from '@paynet/contracts';
import { NATS_CONNECTION, NATS_NAMES, parseInput } from '@paynet/platform';
import { post_transfer_message } from './ledger.messages.js';
import { TransferBatcher } from './transfer-batcher.js';

/** Nest's NATS request packet, as every service's client sends it. */
interface RequestPacket {
  id?: unknown;
  data?: unknown;
}

/**
 * `accounts.transfers.post`, the ledger's hot path, read straight from NATS
 * and handed to the batcher, instead of through Nest's microservice pipeline
 * (its observables, interceptors and per-message promises were a third of
 * this process's time under load, docs/BENCHMARKS.md). The wire stays Nest's:
 * the request `{ pattern, data, id }`, one reply `{ id, response, isDisposed }`
 * or `{ id, err, isDisposed }` with the API error envelope, so every caller's
 * Nest client (RpcClient) is unchanged. Same queue group as the service's
 * other handlers: replicas share the commands. What waits is bounded by the
 * batcher (`batch_queue_max`; past it a command is answered 503, to re-send).
 */
@Injectable()
export class TransferCommandListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TransferCommandListener.name);
  private subscription: Subscription | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(NATS_NAMES) private readonly names: NatsNames,
    private readonly batcher: TransferBatcher,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.nats.subscribe(this.names.request(Subjects.accounts.transfersPost), {
      queue: queue_groups.accounts,
      callback: (error, message) => {
        if (error) this.logger.warn({ err: error }, 'transfer command subscription error');
        else this.handle(message);
      },
    });
  }

  /** No new commands, then the ones read are answered (the batcher flushes them) before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.subscription?.drain();
    await this.batcher.beforeApplicationShutdown();
  }

  private handle(message: Msg): void {
    let packet: RequestPacket;
    try {
      packet = message.json<RequestPacket>();
    } catch {
      return; // Not a Nest request: nothing to answer to.
    }
    if (packet.id === undefined || !message.reply) return;
    const id = packet.id;
    let answer: Promise<TransferReply>;
    try {
      answer = this.batcher.submit(parseInput(post_transfer_message, packet.data));
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (response) => this.respond(message, { id, response, isDisposed: true }),
      (error: unknown) => this.respond(message, { id, err: toEnvelope(error, this.logger), isDisposed: true }),
    );
  }

  private respond(message: Msg, packet: object): void {
    try {
      message.respond(JSON.stringify(packet));
    } catch (error) {
      // The connection is closing: the caller times out and re-sends the same transfer id, which is safe.
      this.logger.warn({ err: error }, 'could not answer a transfer command');
    }
  }
}

function toEnvelope(error: unknown, logger: Logger): ReturnType<ApiError['toEnvelope']> {
  if (error instanceof ApiError) return error.toEnvelope();
  logger.error({ err: error }, 'transfer command failed');
  return ApiError.internal().toEnvelope();
}
