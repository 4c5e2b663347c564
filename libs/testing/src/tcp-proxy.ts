import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * A TCP relay in front of a server (a replica's NATS, for one): `cut()`
 * drops every connection through it and refuses new ones, as a network
 * partition would, while the server and every other client carry on;
 * `restore()` lets connections through again on the same port.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Where it listens (a free port chosen at start, kept across cut and restore). */
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  /** A relay to `target_url`'s host and port (any scheme: nats://, http://). */
  static async start(target_url: string): Promise<TcpProxy> {
    const { hostname, port } = new URL(target_url);
    const proxy = new TcpProxy({ host: hostname, port: Number(port) });
    proxy.port = await proxy.listen(0);
    return proxy;
  }

  /** `target_url` with the relay's port instead of the server's. */
  urlFor(target_url: string): string {
    const url = new URL(target_url);
    url.port = String(this.port);
    return url.toString().replace(/\/$/, '');
  }

  /** Drops every relayed connection at once (RST) and stops accepting. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts and relays again, on the same port. */
  async restore(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  close(): Promise<void> {
    return this.cut();
  }

  private listen(port: number): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }
}
