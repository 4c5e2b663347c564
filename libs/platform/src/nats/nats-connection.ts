import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const NATS_NAMES = Symbol('NATS_NAMES');

/**
 * The service's own NATS connection for JetStream; reconnects forever.
 * `noAsyncTraces`: every JetStream publish is a request, and by default the
 * client captures two stack traces per request up front (for the error it
 * might throw); an outbox publishing an event per balance change spent
 * more CPU on those than on the publishes (profiled under the ledger bench).
 * A failed publish still says what failed; it only lacks the caller's stack.
 */
export async function connectNats(url: string, name: string, access: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const logger = new Logger('Nats');
  const nc = await connect({ ...access, servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') logger.warn('NATS disconnected; reconnecting');
      if (status.type === 'reconnect') logger.log('NATS reconnected');
      // A permissions violation means this service's user lacks a subject it uses: a bug in the table (nats-users.ts).
      if (status.type === 'error') logger.error({ err: status.error }, 'NATS error');
    }
  })().catch(() => undefined);
  return nc;
}

/**
 * Drains the service's NATS connection last: components that publish or
 * consume stop in beforeApplicationShutdown, then this closes the connection.
 */
@Injectable()
export class NatsConnectionCloser implements OnApplicationShutdown {
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}
