import { Logger } from '@nestjs/common';
import type { ConnectionOptions } from '@nats-io/transport-node';
import { ClientNats, ServerNats, type NatsOptions } from '@nestjs/microservices';
import { Headers, natsNames, type NatsNames } from '@paynet/contracts';

type NatsClientConnection = Parameters<ServerNats['bindEvents']>[0];

export interface NatsTransportSettings {
  url: string;
  prefix: string;
  /** Queue group: every replica of a service shares its requests. */
  queue: string;
  name: string;
  /** Credentials, TLS and inbox (natsAccessOptions); none on an open server. */
  access?: Partial<ConnectionOptions>;
}

export function natsConnectionOptions(settings: NatsTransportSettings): NatsOptions['options'] {
  return {
    ...settings.access,
    servers: settings.url,
    name: settings.name,
    queue: settings.queue,
    // A service outlives a NATS restart: reconnect forever, every 250 ms.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    gracefulShutdown: true,
    gracePeriod: 2_000,
  };
}

/**
 * Nest's NATS server with every pattern under the deployment prefix, so test
 * runs and deployments sharing one NATS never answer each other.
 */
export class PrefixedServerNats extends ServerNats {
  private readonly names: NatsNames;
  private stopping = false;

  constructor(private readonly settings: NatsTransportSettings) {
    super(natsConnectionOptions(settings) as NonNullable<NatsOptions['options']>);
    this.names = natsNames(settings.prefix);
  }

  override bindEvents(client: NatsClientConnection): void {
    for (const pattern of this.messageHandlers.keys()) {
      const subscription = client.subscribe(this.names.request(pattern), {
        queue: this.settings.queue,
        callback: this.getMessageHandler(pattern).bind(this),
      });
      // Nest's close() unsubscribes these first on graceful shutdown; the list is private to it.
      (this as unknown as { subscriptions: unknown[] }).subscriptions.push(subscription);
    }
    // The connection reconnects forever, so it only closes when told to, or on an error the client
    // treats as fatal. A service whose request handlers lost NATS would still answer HTTP and look
    // healthy while every call to it fails: crash, so that whatever supervises it starts it again.
    void client.closed().then((error: unknown) => {
      if (this.stopping) return;
      new Logger('Nats').fatal({ err: error }, 'the NATS connection of the request handlers closed; exiting so that the service is restarted');
      process.exit(1);
    });
  }

  override async close(): Promise<void> {
    this.stopping = true;
    await super.close();
  }
}

/** Nest's NATS client sending to prefixed subjects. */
export class PrefixedClientNats extends ClientNats {
  private readonly names: NatsNames;

  constructor(settings: NatsTransportSettings) {
    super(natsConnectionOptions(settings) as NonNullable<NatsOptions['options']>);
    this.names = natsNames(settings.prefix);
  }

  protected override normalizePattern(pattern: unknown): string {
    return this.names.request(super.normalizePattern(pattern as string));
  }
}

export const correlation_header = Headers.correlation_id;
