import { createServer, type Server } from 'node:net';
import { findFreePort, isPortFree, isReachable, withPortRetry } from './ports.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.end());
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('ports', () => {
  it('finds a port that can then be listened on', async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(0);
    const server = await listen(port);
    await new Promise((resolve) => server.close(resolve));
  });

  it('tells a listening port from a closed one', async () => {
    const port = await findFreePort();
    expect(await isReachable('127.0.0.1', port, 500)).toBe(false);
    expect(await isPortFree(port)).toBe(true);
    const server = await listen(port);
    expect(await isReachable('127.0.0.1', port, 500)).toBe(true);
    expect(await isPortFree(port)).toBe(false);
    await new Promise((resolve) => server.close(resolve));
  });

  it('picks another port when the chosen one was taken meanwhile, a bounded number of times', async () => {
    const tried: number[] = [];
    const result = await withPortRetry(undefined, async (port) => {
      tried.push(port);
      if (tried.length < 2) throw new Error('bind: address already in use');
      return port;
    });
    expect(tried).toHaveLength(2);
    expect(result).toBe(tried[1]);
    await expect(
      withPortRetry(undefined, async () => {
        throw new Error('address already in use');
      }),
    ).rejects.toThrow('already in use');
  });

  it('does not retry a fixed port or an unrelated failure', async () => {
    let calls = 0;
    const fail = async () => {
      calls++;
      throw new Error('address already in use');
    };
    await expect(withPortRetry(4999, fail)).rejects.toThrow();
    expect(calls).toBe(1);
  });
});
