import type { PlatformEvent, StreamFrame } from '@paynet/contracts';
import WebSocket from 'ws';
import { waitFor } from './wait-for.js';

/** What a refused upgrade answered: its status and body (`upgraded` is true if it was accepted after all). */
export interface StreamRefusal {
  status: number;
  body: unknown;
  upgraded: boolean;
  /** The Retry-After header of a refusal, if any. */
  retry_after?: string;
}

const wait_for_event_timeout_ms = 15_000;

function streamUrl(push_url: string, token: string | null): string {
  const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
  return `${push_url.replace(/^http/, 'ws')}/v1/stream${query}`;
}

/** A client of push's WebSocket stream (API.md) that keeps every frame it receives, in order. */
export class StreamClient {
  readonly frames: StreamFrame[] = [];
  /** The close code once the server or the client closed the connection. */
  close_code: number | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.frames.push(JSON.parse(String(data)) as StreamFrame));
    socket.on('close', (code) => (this.close_code = code));
  }

  static open(push_url: string, token: string): Promise<StreamClient> {
    const socket = new WebSocket(streamUrl(push_url, token));
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new StreamClient(socket)));
      socket.once('unexpected-response', (_, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** Opens a stream, or answers what the server said instead of upgrading. */
  static tryOpen(push_url: string, token: string | null): Promise<StreamClient | StreamRefusal> {
    const socket = new WebSocket(streamUrl(push_url, token));
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new StreamClient(socket)));
      socket.once('unexpected-response', (_, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          socket.terminate();
          const text = Buffer.concat(chunks).toString('utf8');
          const retry_after = response.headers['retry-after'];
          resolve({ status: response.statusCode ?? 0, body: text === '' ? null : JSON.parse(text), upgraded: false, retry_after });
        });
      });
      socket.once('error', (error) => {
        if (!/Unexpected server response/.test(error.message)) reject(error);
      });
    });
  }

  /** What the server answers instead of upgrading (no token when `token` is null). */
  static async refusal(push_url: string, token: string | null): Promise<StreamRefusal> {
    const opened = await StreamClient.tryOpen(push_url, token);
    if (!(opened instanceof StreamClient)) return opened;
    opened.socket.terminate();
    return { status: 101, body: null, upgraded: true };
  }

  /** The events received, in order. */
  get events(): PlatformEvent[] {
    return this.frames.flatMap((frame) => (frame.type === 'event' ? [frame.event] : []));
  }

  /** Every frame that is not an event (errors, resumed). */
  get others(): StreamFrame[] {
    return this.frames.filter((frame) => frame.type !== 'event');
  }

  eventIds(): string[] {
    return this.events.map((event) => event.id);
  }

  async waitForEvent(type: string, object_id: string, timeout_ms = wait_for_event_timeout_ms): Promise<PlatformEvent> {
    return waitFor(() => this.events.find((event) => event.type === type && (event.data.object as { id?: string }).id === object_id), {
      timeout_ms,
      interval_ms: 25,
      description: `a ${type} event about ${object_id}`,
    });
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Closes the connection (a no-op if it is closed) and waits until it is. */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
