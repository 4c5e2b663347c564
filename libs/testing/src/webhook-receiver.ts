import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  at_ms: number;
}

/**
 * What the endpoint does with the n-th request (0-based): answer a status,
 * with a JSON `body` if given (else the text "ok"), or hang for a while first,
 * or (`hold`) hang until release().
 */
export type Behaviour = (n: number) => { status: number; delay_ms?: number; body?: unknown; hold?: boolean };

/** An HTTP endpoint on 127.0.0.1 that records every request: a merchant's webhook endpoint, a risk verifier. */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private readonly held: (() => void)[] = [];

  private constructor(private readonly server: Server) {}

  static async start(behaviour: Behaviour = () => ({ status: 200 })): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const n = receiver.received.length;
        receiver.received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at_ms: Date.now() });
        const { status, delay_ms, body, hold } = behaviour(n);
        const [content_type, text] = body === undefined ? ['text/plain', 'ok'] : ['application/json', JSON.stringify(body)];
        const answer = () => response.writeHead(status, { 'content-type': content_type }).end(text);
        if (hold) receiver.held.push(answer);
        else setTimeout(answer, delay_ms ?? 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/paynet`;
  }

  /** Requests held unanswered (`hold`) until release(). */
  get holding(): number {
    return this.held.length;
  }

  /** Answers every held request now. */
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  /** Requests for one event (webhook-id). */
  requestsFor(event_id: string): ReceivedWebhook[] {
    return this.received.filter((request) => request.headers['webhook-id'] === event_id);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
