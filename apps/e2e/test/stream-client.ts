import type { PlatformEvent, StreamFrame } from '@paynet/contracts';
import { waitFor } from '@paynet/testing';
import WebSocket from 'ws';

/** A WebSocket client of the push stream that keeps every event it receives. */
export class StreamClient {
  readonly events: PlatformEvent[] = [];
  readonly errors: StreamFrame[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as StreamFrame;
      if (frame.type === 'event') this.events.push(frame.event);
      else this.errors.push(frame);
    });
  }

  static open(push_url: string, token: string): Promise<StreamClient> {
    const socket = new WebSocket(`${push_url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new StreamClient(socket)));
      socket.once('unexpected-response', (_, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      socket.once('error', reject);
    });
  }

  /** The status code a refused upgrade answers with. */
  static refusal(push_url: string, token: string): Promise<number> {
    const socket = new WebSocket(`${push_url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`);
    return new Promise((resolve, reject) => {
      socket.once('unexpected-response', (_, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('open', () => reject(new Error('the upgrade was accepted')));
      socket.once('error', () => undefined);
    });
  }

  async waitForEvent(type: string, object_id: string, timeout_ms = 15_000): Promise<PlatformEvent> {
    let found: PlatformEvent | undefined;
    await waitFor(
      () => (found = this.events.find((event) => event.type === type && (event.data.object as { id?: string }).id === object_id)) !== undefined,
      { timeout_ms, interval_ms: 25 },
    );
    return found as PlatformEvent;
  }

  close(): void {
    this.socket.close();
  }
}
