import { createConnection, createServer } from 'node:net';
import { errorMessage } from './sleep.js';

export const loopback_host = '127.0.0.1';
const port_attempts_max = 3;

/** A TCP port that was free a moment ago (the kernel picks it: listen on port 0). */
export function findFreePort(host: string = loopback_host): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read the chosen port'))));
    });
  });
}

/** Whether `port` can be bound on every interface (nobody listens on it, on any address). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    // No host: Node binds the dual-stack wildcard, which conflicts with a listener on any address.
    server.listen({ port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on host:port within timeout_ms. */
export function isReachable(host: string, port: number, timeout_ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const finish = (reachable: boolean) => {
      socket.destroy();
      resolve(reachable);
    };
    socket.setTimeout(timeout_ms, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * Runs `start` on `fixed_port`, or on a free port; if another process took
 * that port between our check and the bind, picks again (bounded).
 */
export async function withPortRetry<T>(fixed_port: number | undefined, start: (port: number) => Promise<T>): Promise<T> {
  let last_error: unknown;
  for (let attempt = 1; attempt <= port_attempts_max; attempt++) {
    try {
      return await start(fixed_port ?? (await findFreePort()));
    } catch (error) {
      last_error = error;
      const port_taken = /already in use|could not bind/i.test(errorMessage(error));
      if (fixed_port !== undefined || !port_taken) throw error;
    }
  }
  throw last_error;
}
