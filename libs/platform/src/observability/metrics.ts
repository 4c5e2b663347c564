import { Controller, Get, Header } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { RateLimitExempt } from '../rate-limits/rate-limit-exempt.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per process; every service exposes it at GET /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'paynet_' });

export const http_request_duration_seconds = new Histogram({
  name: 'paynet_http_request_duration_seconds',
  help: 'HTTP request latency by route and status',
  labelNames: ['method', 'route', 'status_code'],
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const outbox_published_total = new Counter({
  name: 'paynet_outbox_published_total',
  help: 'Events published from the outbox to JetStream',
  registers: [registry],
});

export const outbox_fallback_published_total = new Counter({
  name: 'paynet_outbox_fallback_published_total',
  help: 'Events published by the outbox fallback: left behind by a crash, or by NATS away (also in paynet_outbox_published_total)',
  registers: [registry],
});

export const outbox_lag_seconds = new Gauge({
  name: 'paynet_outbox_lag_seconds',
  help: 'Age of the oldest event in the last published batch (since its commit; since its row was written, for the fallback)',
  registers: [registry],
});

/** GroupCommit (libs/platform/src/database/group-commit.ts): statements per transaction it ran. */
export const group_commit_statements = new Histogram({
  name: 'paynet_group_commit_statements',
  help: 'Statements per transaction GroupCommit ran for statements that waited (a lone statement that found a free slot is not counted)',
  buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
  registers: [registry],
});

export const group_commit_retried_alone_total = new Counter({
  name: 'paynet_group_commit_retried_alone_total',
  help: 'Shared transactions GroupCommit rolled back (a statement refused) and ran again statement by statement',
  registers: [registry],
});

export function httpMetricsMiddleware(request: Request, response: Response, next: NextFunction): void {
  const stop = http_request_duration_seconds.startTimer();
  response.on('finish', () => {
    // The route pattern, never the raw URL: ids and tokens must not become labels.
    const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
    stop({ method: request.method, route, status_code: String(response.statusCode) });
  });
  next();
}

@Controller('metrics')
@RateLimitExempt()
export class MetricsController {
  @Get()
  @Header('Content-Type', registry.contentType)
  metrics(): Promise<string> {
    return registry.metrics();
  }
}
