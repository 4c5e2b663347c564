import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiError, ErrorCode } from '@paynet/contracts';
import { type CheckTicket, credentialDigest, RateLimits, rate_limited_total, toApiError } from '@paynet/platform';
import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { ReceivedEvent } from '../events/received-event.js';
import { stream_connections, stream_frames_sent_total, stream_slow_clients_closed_total } from '../push.metrics.js';
import { ConnectionRegistry, type StreamPrincipal } from './connection-registry.js';
import { StreamAuthenticator } from './stream.authenticator.js';
import { LivePosition } from './live-position.js';
import { eventFrame, resumedFrame } from './stream.frames.js';
import { type ReplayedEvent, StreamService } from './stream.service.js';

export const stream_path = '/v1/stream';
/** API.md: the server pings every 25 s; a client that did not answer the last ping is dropped. */
export const stream_ping_interval_ms = 25_000;
/** Bytes queued for one client before it counts as too slow and is closed. */
export const stream_buffered_bytes_max = 1024 * 1024;
/** Open (and being authenticated) connections per replica. */
export const stream_connections_max = 10_000;
/** API.md: a token opens at most 20 concurrent streams, across all push replicas (each allows its share). */
export const stream_token_connections_max = 20;
/** What a client refused for too many streams of one token is told to wait: streams end when clients close them. */
const stream_token_retry_after_seconds = 5;
/** Client messages are small (resume); anything bigger closes the connection (1009). */
export const stream_client_message_bytes_max = 4 * 1024;
/** Client messages queued on one connection; a client sending more at once is closed (1008). */
export const stream_client_messages_pending_max = 8;
/** A closed client has this long to finish the closing handshake before its socket is cut. */
export const stream_close_grace_ms = 2_000;
/**
 * A new connection holds its live frames this long, or until the client's
 * first message: a client resumes first thing after opening, and the events
 * it missed must come before the live ones.
 */
export const stream_resume_grace_ms = 250;
/** Live frames held for one connection while its resume is being replayed; more closes it (1013). */
export const stream_resume_buffer_max = 10_000;
/** How often every open stream's token is checked again: the backstop for a revocation broadcast that was lost. */
export const stream_recheck_interval_ms = 60_000;
/** Token checks at once during a recheck. */
const stream_recheck_concurrency = 8;
/**
 * How long a revocation is remembered: a token checked just before the
 * revocation committed, whose connection is accepted after the broadcast
 * arrived, is still refused (a check takes at most the NATS request timeout).
 */
const revocation_memory_ms = 60_000;
/** setTimeout's largest delay. */
const timer_delay_ms_max = 2_147_483_647;

/** RFC 6455 close codes we use. */
const close_going_away = 1001;
const close_policy_violation = 1008;
const close_try_again_later = 1013;

interface Connection {
  ws: WebSocket;
  principal: StreamPrincipal;
  /** Kept in memory only, to check it again (recheck); never logged. */
  token: string;
  /** When the connection is closed for its token's end (ms), if it has one. */
  expires_at_ms: number | undefined;
  /** The digest of the token it was opened with: streams are counted per token. */
  token_key: string;
  alive: boolean;
  open: boolean;
  expiry: NodeJS.Timeout | undefined;
  /** The fan-out's position when this connection was registered: it gets every event from there on live. */
  live_from_seq: number;
  /** The highest stream sequence sent live: a live frame at or below it is not sent again. */
  sent_seq: number;
  /** While a resume is replayed (or may yet come), live frames wait here, in order, and go out after it. */
  held: ReplayedEvent[] | undefined;
  grace: NodeJS.Timeout | undefined;
  /** Client messages being answered, one after another, in the order they came. */
  answering: number;
  answered: Promise<void>;
}

/**
 * The WebSocket stream on the service's own HTTP server: the token is checked
 * before the upgrade (401 with the API error body otherwise), then the
 * connection gets its principal's events from this replica's fan-out.
 */
@Injectable()
export class StreamGateway implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(StreamGateway.name);
  private readonly wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: stream_client_message_bytes_max,
  });
  private readonly registry = new ConnectionRegistry<Connection>();
  private readonly connections = new Set<Connection>();
  /** Open connections by the credential they stand on (API key id, account token id). */
  private readonly by_credential = new Map<string, Set<Connection>>();
  /** Credentials revoked lately, and when they stop (ms): see revocation_memory_ms. */
  private readonly revoked = new Map<string, { stops_at_ms: number; forget_at_ms: number }>();
  private recheck_timer: NodeJS.Timeout | undefined;
  private rechecking = false;
  private authenticating = 0;
  /** Streams open or being opened, per token digest. */
  private readonly per_token = new Map<string, number>();
  private server: Server | undefined;
  private ping_timer: NodeJS.Timeout | undefined;
  private readonly upgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(request, socket, head);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly authenticator: StreamAuthenticator,
    private readonly stream: StreamService,
    private readonly position: LivePosition,
    private readonly limits: RateLimits,
  ) {}

  onApplicationBootstrap(): void {
    this.server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    this.server.on('upgrade', this.upgradeListener);
    this.ping_timer = setInterval(() => this.pingAll(), stream_ping_interval_ms);
    this.ping_timer.unref();
    this.recheck_timer = setInterval(() => void this.recheckAll(), stream_recheck_interval_ms);
    this.recheck_timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.server?.off('upgrade', this.upgradeListener);
    clearInterval(this.ping_timer);
    clearInterval(this.recheck_timer);
    const open = [...this.connections];
    const closed = open.map((connection) => new Promise<void>((resolve) => {
      if (connection.ws.readyState === WebSocket.CLOSED) resolve();
      else connection.ws.once('close', () => resolve());
    }));
    for (const connection of open) this.close(connection, close_going_away, 'server shutting down');
    // The HTTP server's close waits for upgraded sockets too: clients get the grace, then they are cut.
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, stream_close_grace_ms + 100).unref())]);
    this.wss.close();
  }

  /** Sends the event to every local connection that may see it; answers how many. */
  broadcast(received: ReceivedEvent): number {
    const recipients = this.registry.recipientsOf(received.event);
    if (recipients.length === 0) return 0;
    const frame = eventFrame(received.payload);
    for (const connection of recipients) this.sendLive(connection, received.stream_seq, frame);
    stream_frames_sent_total.inc(recipients.length);
    return recipients.length;
  }

  /**
   * Credentials that stopped (no `expires_at`, or one already past) or will
   * stop at `expires_at` (Unix seconds): their streams are closed (1008) now
   * or then, and a connection whose check raced the revocation is refused.
   */
  revoke(credentials: readonly string[], expires_at?: number): number {
    const now_ms = Date.now();
    const stops_at_ms = expires_at === undefined ? now_ms : Math.min(expires_at * 1_000, now_ms + timer_delay_ms_max);
    this.forgetOldRevocations(now_ms);
    let closed = 0;
    for (const credential of credentials) {
      const known = this.revoked.get(credential);
      this.revoked.set(credential, { stops_at_ms: Math.min(stops_at_ms, known?.stops_at_ms ?? Infinity), forget_at_ms: now_ms + revocation_memory_ms });
      for (const connection of [...(this.by_credential.get(credential) ?? [])]) {
        if (stops_at_ms <= now_ms) {
          this.close(connection, close_policy_violation, 'credential revoked');
          closed++;
        } else {
          this.expireAt(connection, stops_at_ms);
        }
      }
    }
    return closed;
  }

  /**
   * Checks every open stream's token again, a few at a time: a stream whose
   * token no longer passes is closed (1008), one whose token now ends sooner
   * gets the earlier end. Run after a NATS reconnect (broadcasts may have
   * been missed) and every stream_recheck_interval_ms.
   */
  async recheckAll(): Promise<void> {
    if (this.rechecking) return;
    this.rechecking = true;
    try {
      const queue = [...this.connections];
      const worker = async () => {
        for (let connection = queue.shift(); connection !== undefined; connection = queue.shift()) {
          if (connection.open) await this.recheck(connection);
        }
      };
      await Promise.all(Array.from({ length: stream_recheck_concurrency }, worker));
    } finally {
      this.rechecking = false;
    }
  }

  private async recheck(connection: Connection): Promise<void> {
    try {
      const principal = await this.authenticator.authenticate(connection.token);
      if (principal.expires_at !== null) this.expireAt(connection, principal.expires_at * 1_000);
    } catch (error) {
      const api_error = toApiError(error);
      // Only a refusal closes: a check that could not be made (5xx, timeout) leaves the stream as it was.
      if (api_error.status === 401) this.close(connection, close_policy_violation, 'credential revoked or expired');
    }
  }

  private forgetOldRevocations(now_ms: number): void {
    for (const [credential, entry] of this.revoked) if (entry.forget_at_ms <= now_ms) this.revoked.delete(credential);
  }

  /** Closes the connection (1008) at `at_ms`, unless it is set to close sooner already. */
  private expireAt(connection: Connection, at_ms: number): void {
    if (!connection.open || (connection.expires_at_ms !== undefined && connection.expires_at_ms <= at_ms)) return;
    clearTimeout(connection.expiry);
    connection.expires_at_ms = at_ms;
    const remaining_ms = Math.min(Math.max(at_ms - Date.now(), 0), timer_delay_ms_max);
    connection.expiry = setTimeout(() => this.close(connection, close_policy_violation, 'stream token expired'), remaining_ms);
    connection.expiry.unref();
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = parseRequestUrl(request.url);
    if (url?.pathname !== stream_path) {
      rejectUpgrade(socket, new ApiError(404, 'invalid_request_error', ErrorCode.route_not_found, 'Unrecognized request URL.'));
      return;
    }
    // Connections being authenticated count too: a flood of upgrades cannot pile up checks without bound.
    if (this.connections.size + this.authenticating >= stream_connections_max) {
      rejectUpgrade(socket, ApiError.unavailable('This server has too many stream connections; try again shortly.'));
      return;
    }
    this.authenticating++;
    const token = url.searchParams.get('token');
    this.open(request, token)
      .finally(() => this.authenticating--)
      .then(
        ({ principal, token_key }) => {
          if (socket.destroyed) return this.release(token_key);
          const revoked = this.revoked.get(principal.credential);
          if (revoked !== undefined && revoked.stops_at_ms <= Date.now()) {
            this.release(token_key);
            rejectUpgrade(socket, ApiError.unauthorized(ErrorCode.invalid_token, 'This token was revoked.'));
            return;
          }
          // A handshake ws refuses (a bad Sec-WebSocket-Key) never reaches accept: its slot is given back when the socket goes.
          let accepted = false;
          socket.once('close', () => accepted || this.release(token_key));
          this.wss.handleUpgrade(request, socket, head, (ws) => {
            accepted = true;
            this.accept(ws, principal, token_key, token as string);
          });
        },
        (error: unknown) => {
          const api_error = toApiError(error);
          if (api_error.status >= 500) this.logger.warn({ err: error }, 'could not check a stream token');
          rejectUpgrade(socket, api_error);
        },
      );
  }

  /**
   * The rate limits of an HTTP request (RateLimits: charged before the token
   * is checked), then a slot among its token's streams, held until the
   * connection closes (release) or the open fails.
   */
  private async open(request: IncomingMessage, token: string | null): Promise<{ principal: StreamPrincipal; token_key: string }> {
    const token_key = credentialDigest('stream', token ?? '');
    const ticket = await this.limits.beforeCheck(this.limits.clientAddress(request), token ? token_key : undefined);
    const principal = await this.authenticate(ticket, token);
    const open = this.per_token.get(token_key) ?? 0;
    const allowed = this.limits.share(stream_token_connections_max);
    if (open >= allowed) {
      rate_limited_total.inc({ budget: 'streams' });
      const message = `A token opens at most ${stream_token_connections_max} streams at once (${allowed} on this server); close one first.`;
      throw Object.assign(new ApiError(429, 'rate_limit_error', ErrorCode.too_many_streams, message), { retry_after_seconds: stream_token_retry_after_seconds });
    }
    this.per_token.set(token_key, open + 1);
    return { principal, token_key };
  }

  private async authenticate(ticket: CheckTicket, token: string | null): Promise<StreamPrincipal> {
    let principal: StreamPrincipal;
    try {
      principal = await this.authenticator.authenticate(token);
    } catch (error) {
      await this.limits.checkFailed(ticket);
      throw error;
    }
    await this.limits.authenticated(ticket, principal.kind === 'merchant' ? `merchant:${principal.merchant_id}` : `holder:${principal.account_id}`);
    return principal;
  }

  private release(token_key: string): void {
    const open = (this.per_token.get(token_key) ?? 0) - 1;
    if (open > 0) this.per_token.set(token_key, open);
    else this.per_token.delete(token_key);
  }

  private accept(ws: WebSocket, principal: StreamPrincipal, token_key: string, token: string): void {
    const connection: Connection = {
      ws,
      principal,
      token_key,
      token,
      expires_at_ms: undefined,
      alive: true,
      open: true,
      expiry: undefined,
      live_from_seq: this.position.next_seq,
      sent_seq: 0,
      held: [],
      grace: undefined,
      answering: 0,
      answered: Promise.resolve(),
    };
    connection.grace = setTimeout(() => {
      connection.grace = undefined;
      if (connection.answering === 0) this.releaseHeld(connection);
    }, stream_resume_grace_ms);
    connection.grace.unref();
    this.connections.add(connection);
    this.registry.add(principal, connection);
    let same_credential = this.by_credential.get(principal.credential);
    if (!same_credential) this.by_credential.set(principal.credential, (same_credential = new Set()));
    same_credential.add(connection);
    stream_connections.inc();
    // A stream token is short-lived, and stops with the key it was issued under: the connection does not outlive it.
    if (principal.expires_at !== null) this.expireAt(connection, principal.expires_at * 1_000);
    const revoked = this.revoked.get(principal.credential);
    if (revoked !== undefined) this.expireAt(connection, revoked.stops_at_ms);
    ws.on('pong', () => {
      connection.alive = true;
    });
    ws.on('message', (data: RawData, is_binary: boolean) => this.onMessage(connection, data, is_binary));
    ws.on('error', (error) => this.logger.debug({ err: error }, 'stream connection error'));
    ws.on('close', () => this.forget(connection));
  }

  private onMessage(connection: Connection, data: RawData, is_binary: boolean): void {
    if (connection.answering >= stream_client_messages_pending_max) {
      this.close(connection, close_policy_violation, 'too many messages at once');
      return;
    }
    clearTimeout(connection.grace);
    connection.grace = undefined;
    connection.answering++;
    // Live frames wait from here until the replays are out: they come after every missed event.
    connection.held ??= [];
    const text = is_binary ? '' : textOf(data);
    connection.answered = connection.answered
      .then(() => this.resume(connection, text))
      .catch((error: unknown) => {
        this.logger.warn({ err: error }, 'could not answer a stream message');
        this.close(connection, close_try_again_later, 'could not resume; reconnect and resume');
      })
      .finally(() => {
        if (--connection.answering === 0) this.releaseHeld(connection);
      });
  }

  private async resume(connection: Connection, text: string): Promise<void> {
    const answer = await this.stream.answer(connection.principal, text, connection.live_from_seq);
    switch (answer.kind) {
      case 'error':
        this.send(connection, answer.frame);
        return;
      case 'unrecoverable':
        this.send(connection, resumedFrame(null));
        return;
      case 'not_ready':
        this.close(connection, close_try_again_later, 'events not yet recorded; reconnect and resume');
        return;
      case 'replay':
        for (const event of answer.events) if (!(await this.sendPaced(connection, event.frame))) return;
        stream_frames_sent_total.inc(answer.events.length);
        this.send(connection, resumedFrame(answer.events.length));
    }
  }

  /** Sends what arrived live during the replay, skipping what was sent, and goes live again. */
  private releaseHeld(connection: Connection): void {
    const held = connection.held ?? [];
    connection.held = undefined;
    for (const event of held) this.sendLive(connection, event.seq, event.frame);
  }

  /** A live frame: held while a resume is replayed, never sent twice, in stream order. */
  private sendLive(connection: Connection, seq: number, frame: string): void {
    if (connection.held !== undefined) {
      if (connection.held.length >= stream_resume_buffer_max) {
        stream_slow_clients_closed_total.inc();
        this.close(connection, close_try_again_later, 'too many events during the resume; reconnect and resume');
        return;
      }
      connection.held.push({ seq, frame });
      return;
    }
    if (seq <= connection.sent_seq) return;
    connection.sent_seq = seq;
    this.send(connection, frame);
  }

  /**
   * A replayed frame: the replay may be larger than the send buffer, so it
   * waits for the socket to take what is queued rather than count as slow.
   * Answers false once the connection is gone.
   */
  private async sendPaced(connection: Connection, frame: string): Promise<boolean> {
    if (!connection.open || connection.ws.readyState !== WebSocket.OPEN) return false;
    if (connection.ws.bufferedAmount < stream_buffered_bytes_max / 2) {
      connection.ws.send(frame);
      return true;
    }
    await new Promise<void>((resolve) => connection.ws.send(frame, () => resolve()));
    return connection.open;
  }

  /** Queues a frame, unless the client is so far behind that it is closed instead. */
  private send(connection: Connection, frame: string): void {
    if (!connection.open || connection.ws.readyState !== WebSocket.OPEN) return;
    if (connection.ws.bufferedAmount + Buffer.byteLength(frame) > stream_buffered_bytes_max) {
      stream_slow_clients_closed_total.inc();
      this.close(connection, close_try_again_later, 'client too slow; reconnect and resume');
      return;
    }
    connection.ws.send(frame);
  }

  private pingAll(): void {
    for (const connection of this.connections) {
      if (!connection.alive) {
        connection.ws.terminate();
        this.forget(connection);
        continue;
      }
      connection.alive = false;
      connection.ws.ping();
    }
  }

  /** Stops sending at once; the socket is cut if the closing handshake does not finish in time. */
  private close(connection: Connection, code: number, reason: string): void {
    this.forget(connection);
    connection.ws.close(code, reason);
    setTimeout(() => connection.ws.terminate(), stream_close_grace_ms).unref();
  }

  private forget(connection: Connection): void {
    if (!connection.open) return;
    connection.open = false;
    clearTimeout(connection.expiry);
    clearTimeout(connection.grace);
    connection.held = undefined;
    this.connections.delete(connection);
    this.release(connection.token_key);
    this.registry.remove(connection.principal, connection);
    const same_credential = this.by_credential.get(connection.principal.credential);
    same_credential?.delete(connection);
    if (same_credential?.size === 0) this.by_credential.delete(connection.principal.credential);
    stream_connections.dec();
  }
}

/** A malformed request target must not throw inside the server's 'upgrade' listener. */
function parseRequestUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

/** Answers an upgrade request with a plain HTTP error (API.md error body) and no upgrade. */
function rejectUpgrade(socket: Duplex, error: ApiError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(error.toBody());
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      (error.retry_after_seconds === undefined ? '' : `Retry-After: ${error.retry_after_seconds}\r\n`) +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n' +
      '\r\n' +
      body,
  );
}
