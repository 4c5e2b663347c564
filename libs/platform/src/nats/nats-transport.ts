import { Logger } from '@nestjs/common';
import { connect, errors, type ConnectionOptions, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { ServerNats, type NatsOptions } from '@nestjs/microservices';
import { randomUUID } from 'node:crypto';
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

/** Nest's request packet: what ServerNats (and accounts' TransferCommandListener) reads. */
interface RequestPacket {
  pattern: string;
  data: unknown;
  id: string;
}

/** Nest's reply packet: one per request, `isDisposed` set (Nest's Server.send merges a single answer and its end). */
interface ReplyPacket {
  id?: unknown;
  err?: unknown;
  response?: unknown;
  isDisposed?: boolean;
}

/** The reply was not an answer: what Nest's client would have failed with (no value before the end). */
export class EmptyReplyError extends Error {
  constructor(subject: string) {
    super(`no answer in the reply to ${subject}`);
    this.name = 'EmptyReplyError';
  }
}

/**
 * Requests to the services' Nest NATS handlers under the deployment prefix,
 * on the wire Nest's ClientNats uses (the request `{ pattern, data, id }`, one
 * reply `{ id, response | err, isDisposed }`), without it: Nest's client
 * subscribes a fresh inbox for every request and unsubscribes it after the
 * answer (two more protocol messages for the client and nats-server to
 * handle, the UNSUB a socket write of its own) and runs each through
 * observables. nats.js's `request` answers all requests of a connection on one
 * wildcard inbox subscription. `noAsyncTraces`: no stack trace captured up
 * front for an error that is rarely thrown (connectNats says why).
 */
export class PrefixedClientNats {
  private readonly names: NatsNames;
  private connection: Promise<NatsConnection> | undefined;
  private ready = false;
  private closed = false;
  private in_flight = 0;
  private idle: (() => void) | undefined;

  constructor(private readonly settings: NatsTransportSettings) {
    this.names = natsNames(settings.prefix);
  }

  /** The reply's `response`; throws the reply's `err` (an error envelope) as it came, or nats.js's error. */
  async request<TReply>(pattern: string, data: unknown, options: { timeout_ms: number; headers?: MsgHdrs }): Promise<TReply> {
    const nc = await this.connected(options.timeout_ms);
    const packet: RequestPacket = { pattern, data, id: randomUUID() };
    const subject = this.names.request(pattern);
    this.in_flight++;
    let message: Msg;
    try {
      message = await nc.request(subject, JSON.stringify(packet), { timeout: options.timeout_ms, headers: options.headers });
    } finally {
      if (--this.in_flight === 0) this.idle?.();
    }
    if (message.data.length === 0) throw new EmptyReplyError(subject);
    const reply = message.json<ReplyPacket>();
    if (reply.err) throw reply.err;
    if (reply.response === undefined) throw new EmptyReplyError(subject);
    return reply.response as TReply;
  }

  /** The connection, waited for at most `timeout_ms` (a request's time counted its connecting, as with Nest's client). */
  private async connected(timeout_ms: number): Promise<NatsConnection> {
    const connection = this.connect();
    if (this.ready) return connection;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new errors.TimeoutError()), timeout_ms)));
    try {
      return await Promise.race([connection, expiry]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Connects on first use (as Nest's client did); a failed attempt is tried again by the next request. */
  private connect(): Promise<NatsConnection> {
    if (this.closed) return Promise.reject(new Error(`${this.settings.name}: closed`));
    this.connection ??= connect({
      ...this.settings.access,
      servers: this.settings.url,
      name: this.settings.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    }).then(
      (nc) => {
        this.ready = true;
        return nc;
      },
    ).catch((error: unknown) => {
      this.connection = undefined;
      throw error;
    });
    return this.connection;
  }

  /** Takes no more requests, lets those in flight be answered (for at most the grace Nest's client gave them), then closes. */
  async close(): Promise<void> {
    this.closed = true;
    const connection = this.connection;
    this.connection = undefined;
    this.ready = false;
    const nc = await connection?.catch(() => undefined);
    if (!nc || nc.isClosed()) return;
    if (this.in_flight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, client_close_grace_ms);
      });
      clearTimeout(timer);
    }
    await nc.close();
  }
}

const client_close_grace_ms = 2_000;

export const correlation_header = Headers.correlation_id;
