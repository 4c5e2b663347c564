import { WebSocket } from 'ws';

export interface Frame {
  type: string;
  event?: { id: string; [key: string]: unknown };
  error?: { code: string; message: string };
}

/** A WebSocket stream client that keeps every frame it gets. */
export class StreamClient {
  readonly frames: Frame[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
  }

  static open(base_url: string, token: string): Promise<StreamClient> {
    const ws = new WebSocket(`${base_url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new StreamClient(ws)));
      ws.once('error', reject);
    });
  }

  /** What the server answers instead of upgrading: status and body. */
  static refusal(base_url: string, token: string | null): Promise<{ status: number; body: unknown; upgraded: boolean }> {
    const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(`${base_url.replace(/^http/, 'ws')}/v1/stream${query}`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.terminate();
        resolve({ status: 101, body: null, upgraded: true });
      });
      ws.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          ws.terminate();
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), upgraded: false });
        });
      });
      ws.once('error', (error) => {
        if (!/Unexpected server response/.test(error.message)) reject(error);
      });
    });
  }

  eventIds(): string[] {
    return this.frames.filter((frame) => frame.type === 'event').map((frame) => frame.event?.id ?? '');
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
