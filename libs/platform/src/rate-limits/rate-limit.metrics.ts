import { Counter, Gauge } from 'prom-client';
import { registry } from '../observability/metrics.js';

export const rate_limited_total = new Counter({
  name: 'paynet_rate_limited_total',
  help: 'Requests and stream opens refused with 429, by the budget that ran out (principal, address, streams, concurrency)',
  labelNames: ['budget'],
  registers: [registry],
});

export const rate_limit_replicas = new Gauge({
  name: 'paynet_rate_limit_replicas',
  help: 'Live replicas of this service as this replica hears them; each enforces budget / replicas',
  registers: [registry],
});

let admission: { readonly in_flight: number; readonly waiting: number } | undefined;

/** The admission gauges read this queue when scraped: no cost per request. */
export function watchAdmission(queue: { readonly in_flight: number; readonly waiting: number }): void {
  admission = queue;
}

export const requests_in_flight = new Gauge({
  name: 'paynet_requests_in_flight',
  help: "Requests holding one of this replica's MAX_CONCURRENT_REQUESTS slots",
  registers: [registry],
  collect() {
    this.set(admission?.in_flight ?? 0);
  },
});

export const requests_waiting = new Gauge({
  name: 'paynet_requests_waiting',
  help: 'Requests waiting for a slot, served round-robin across principals and addresses',
  registers: [registry],
  collect() {
    this.set(admission?.waiting ?? 0);
  },
});
