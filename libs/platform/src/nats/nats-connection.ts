import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const NATS_NAMES = Symbol('NATS_NAMES');

/** The service's own NATS connection for JetStream; reconnects forever. */
export async function connectNats(url: string, name: string, access: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const logger = new Logger('Nats');
  const nc = await connect({ ...access, servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
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
