import { type CanActivate, Controller, type ExecutionContext, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONFIG } from '../config/config.js';
import { ApiExceptionFilter } from '../errors/api-exception.filter.js';
import { AdmissionInterceptor, RequestAdmission } from './request-admission.js';
import { ReplicaCensus } from './replica-census.js';

/** What the handlers are doing, for the test to steer: each slow call waits for `finish`. */
const handlers = { started: 0, settled: 0, gates: [] as { resolve: () => void; reject: (error: Error) => void }[] };

@Controller()
class SlowController {
  @Get('slow')
  async slow(): Promise<{ ok: true }> {
    handlers.started++;
    try {
      await new Promise<void>((resolve, reject) => handlers.gates.push({ resolve, reject }));
      return { ok: true };
    } finally {
      handlers.settled++;
    }
  }
}

/** Admits as AuthGuard does, keyed by a header. */
@Injectable()
class KeyGuard implements CanActivate {
  constructor(private readonly admission: RequestAdmission) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest();
    return this.admission.admit(String(request.headers['x-key']), request, http.getResponse());
  }
}

@Module({
  controllers: [SlowController],
  providers: [
    {
      provide: CONFIG,
      useValue: { MAX_CONCURRENT_REQUESTS: 1, MAX_PENDING_REQUESTS_PER_PRINCIPAL: 2, RATE_LIMIT_PER_SECOND: 1_000_000, RATE_LIMIT_UNAUTHENTICATED_PER_SECOND: 1_000_000, RATE_LIMIT_BURST: 4 },
    },
    // One replica, as a service alone on the bus hears itself.
    { provide: ReplicaCensus, useValue: { replicas: 1, onChange: () => undefined } },
    RequestAdmission,
    { provide: APP_GUARD, useClass: KeyGuard },
    { provide: APP_FILTER, useClass: ApiExceptionFilter },
    { provide: APP_INTERCEPTOR, useClass: AdmissionInterceptor },
  ],
})
class TestModule {}

interface Call {
  answer: Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  abort: () => void;
}

describe('request slots over HTTP (RequestAdmission)', () => {
  let app: INestApplication;
  let port: number;
  let admission: RequestAdmission;

  beforeAll(async () => {
    app = await NestFactory.create<NestExpressApplication>(TestModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    admission = app.get(RequestAdmission);
  });
  afterAll(async () => app.close());

  function call(key: string): Call {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/slow', headers: { 'x-key': key }, agent: false });
    const answer = new Promise<Awaited<Call['answer']>>((resolve, reject) => {
      request.on('response', (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      });
      request.on('error', reject);
    });
    request.end();
    return { answer, abort: () => request.destroy() };
  }

  async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const state = () => ({ in_flight: admission.queue.in_flight, waiting: admission.queue.waiting, keys: admission.queue.keys_pending });

  it('keeps the slot of a request whose client went away until its handler has settled, and frees it then', async () => {
    const started = handlers.started;
    const gone = call('a');
    await until(() => handlers.started === started + 1);
    const next = call('b');
    await until(() => admission.queue.waiting === 1);
    gone.abort();
    await expect(gone.answer).rejects.toThrow();
    // The handler still works for the client that left: the slot is still its.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(state()).toEqual({ in_flight: 1, waiting: 1, keys: 2 });
    handlers.gates.shift()?.resolve();
    await until(() => handlers.started === started + 2);
    handlers.gates.shift()?.resolve();
    await expect(next.answer).resolves.toMatchObject({ status: 200 });
    await until(() => admission.queue.in_flight === 0);
    expect(state()).toEqual({ in_flight: 0, waiting: 0, keys: 0 });
  });

  it('lets a waiting request whose client went away leave the queue without running', async () => {
    const started = handlers.started;
    const first = call('a');
    await until(() => handlers.started === started + 1);
    const waiter = call('b');
    await until(() => admission.queue.waiting === 1);
    waiter.abort();
    await expect(waiter.answer).rejects.toThrow();
    await until(() => admission.queue.waiting === 0);
    handlers.gates.shift()?.resolve();
    await expect(first.answer).resolves.toMatchObject({ status: 200 });
    await until(() => admission.queue.in_flight === 0);
    expect(handlers.started).toBe(started + 1);
    expect(state()).toEqual({ in_flight: 0, waiting: 0, keys: 0 });
  });

  it('frees the slot of a handler that fails, once the error is answered', async () => {
    const started = handlers.started;
    const failing = call('a');
    await until(() => handlers.started === started + 1);
    handlers.gates.shift()?.reject(new Error('boom'));
    await expect(failing.answer).resolves.toMatchObject({ status: 500 });
    await until(() => admission.queue.in_flight === 0);
    expect(state()).toEqual({ in_flight: 0, waiting: 0, keys: 0 });
  });

  it('answers 429 with Retry-After in the envelope past a key\'s bound, and still serves another key', async () => {
    const started = handlers.started;
    const held = call('flood');
    await until(() => handlers.started === started + 1);
    const queued = call('flood');
    const other = call('steady');
    await until(() => admission.queue.waiting === 2);
    const refused = await call('flood').answer;
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body)).toMatchObject({ error: { type: 'rate_limit_error', code: 'too_many_concurrent_requests' } });
    for (let served = 1; served <= 3; served++) {
      await until(() => handlers.started === started + served);
      handlers.gates.shift()?.resolve();
    }
    await expect(Promise.all([held.answer, queued.answer, other.answer])).resolves.toMatchObject([{ status: 200 }, { status: 200 }, { status: 200 }]);
    await until(() => admission.queue.in_flight === 0);
  });
});
