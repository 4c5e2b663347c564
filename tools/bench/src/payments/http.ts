import { Agent, request } from 'node:http';

/** Per request; an answer that takes longer counts as a failure of unknown outcome. */
export const request_timeout_ms = 30_000;
const answer_bytes_max = 1024 * 1024;

/** Headers, or how to make them (again, for a retry). */
export type Headers = Record<string, string> | (() => Record<string, string>);

class ReusedSocketClosed extends Error {}

export interface Answer {
  status: number;
  /** The body as text (JSON for every route the bench calls). */
  text: string;
}

/**
 * A cheap HTTP/1.1 client for the load generator: one keep-alive agent per
 * service (connections reused, none opened per request), bodies as strings,
 * nothing parsed that the caller does not ask for.
 */
export class HttpClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(base_url: string, sockets_max: number) {
    this.url = new URL(base_url);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets_max, maxFreeSockets: sockets_max });
  }

  /**
   * One request. A keep-alive socket the server closed as it was reused
   * fails before the request reached it (Node's documented race): sent once
   * more on a new socket, with headers made again (a signed request needs
   * a new nonce); the Idempotency-Key, if any, is the same.
   */
  async send(method: string, path: string, headers: Headers, body?: string): Promise<Answer> {
    try {
      return await this.sendOnce(method, path, typeof headers === 'function' ? headers() : headers, body);
    } catch (error) {
      if (!(error instanceof ReusedSocketClosed)) throw error;
      return this.sendOnce(method, path, typeof headers === 'function' ? headers() : headers, body);
    }
  }

  private sendOnce(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
          timeout: request_timeout_ms,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          let size = 0;
          incoming.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= answer_bytes_max) chunks.push(chunk);
          });
          incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          incoming.on('error', reject);
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${request_timeout_ms} ms`)));
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        reject(outgoing.reusedSocket && error.code === 'ECONNRESET' ? new ReusedSocketClosed(error.message) : error);
      });
      outgoing.end(body);
    });
  }

  /** A JSON request that must answer `expected`; answers the parsed body. */
  async json<T>(method: string, path: string, headers: Headers, body: unknown, expected: number): Promise<T> {
    const answer = await this.send(method, path, headers, body === undefined ? undefined : JSON.stringify(body));
    if (answer.status !== expected) throw new Error(`${method} ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    return JSON.parse(answer.text) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}
