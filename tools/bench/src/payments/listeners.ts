/**
 * The bench as the merchants' listeners: their webhook endpoint (one local
 * HTTP server answering 200 at once) and one WebSocket stream per merchant.
 * Both tell their DeliveryClock when `payment_intent.succeeded` arrives.
 */
import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { DeliveryClock } from './delivery.js';

const webhook_body_bytes_max = 256 * 1024;
const stream_open_timeout_ms = 30_000;

/** The intent id of a `payment_intent.succeeded` event, if that is what `event` is. */
export function succeededIntent(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const { type, data } = event as { type?: unknown; data?: { object?: { id?: unknown } } };
  const id = data?.object?.id;
  return type === 'payment_intent.succeeded' && typeof id === 'string' ? id : undefined;
}

export class WebhookListener {
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(clock: DeliveryClock): Promise<WebhookListener> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= webhook_body_bytes_max) chunks.push(chunk);
      });
      request.on('end', () => {
        const heard_ms = performance.now();
        const wall_ms = Date.now();
        response.writeHead(200).end();
        try {
          const succeeded = succeededIntent(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          if (succeeded !== undefined) clock.hear(succeeded, heard_ms, wall_ms);
        } catch {
          // Not an event: nothing to time.
        }
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the webhook listener has no port');
    return new WebhookListener(server, `http://127.0.0.1:${address.port}/webhooks`);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A merchant's live stream: every frame parsed, succeeded payments timed. */
export async function openStream(push_url: string, token: string, clock: DeliveryClock, onClose: (reason: string) => void): Promise<WebSocket> {
  const url = `${push_url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`;
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stream did not open within ${stream_open_timeout_ms} ms`)), stream_open_timeout_ms);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  socket.on('message', (data: Buffer) => {
    const heard_ms = performance.now();
    const wall_ms = Date.now();
    try {
      const frame = JSON.parse(data.toString('utf8')) as { type?: string; event?: unknown };
      const succeeded = frame.type === 'event' ? succeededIntent(frame.event) : undefined;
      if (succeeded !== undefined) clock.hear(succeeded, heard_ms, wall_ms);
    } catch {
      // Not JSON: nothing to time.
    }
  });
  socket.on('close', (code) => onClose(`stream closed (code ${code})`));
  return socket;
}
