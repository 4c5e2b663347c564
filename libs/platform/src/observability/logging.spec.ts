import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import { loggerParams, redactUrl } from './logging.js';

describe('log redaction', () => {
  it('keeps tokens in query strings out of log lines', () => {
    expect(redactUrl('/v1/stream?token=st_secret&x=1')).toBe('/v1/stream?token=[redacted]&x=1');
    expect(redactUrl('/dashboard?a=1&token=at_secret')).toBe('/dashboard?a=1&token=[redacted]');
    expect(redactUrl('/v1/payment-intents?limit=5')).toBe('/v1/payment-intents?limit=5');
  });
});

describe('request log lines', () => {
  const lines: { level: number; res?: { status_code?: number } }[] = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const { pinoHttp: options } = loggerParams('test', 'info') as { pinoHttp: Record<string, unknown> };
    const middleware = pinoHttp({ ...options, logger: pino({ level: 'info' }, sink) } as never);
    server = createServer((request, response) => {
      middleware(request, response);
      response.statusCode = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('status'));
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function levelOf(status: number): Promise<number | undefined> {
    const before = lines.length;
    await fetch(`${base}/v1/x?status=${status}`);
    await new Promise((resolve) => setImmediate(resolve));
    return lines.slice(before).find((line) => line.res?.status_code === status)?.level;
  }

  it('writes a 2xx and a 4xx at info, a 5xx as an error, and no line at info for a 429 of the rate limits', async () => {
    expect(await levelOf(200)).toBe(30);
    expect(await levelOf(404)).toBe(30);
    expect(await levelOf(503)).toBe(50);
    expect(await levelOf(429)).toBeUndefined();
  });
});
