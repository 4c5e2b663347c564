import { Counter, Gauge } from 'prom-client';
import { registry } from '../observability/metrics.js';

export const rate_limited_total = new Counter({
  name: 'paynet_rate_limited_total',
  help: 'Requests and stream opens refused with 429, by the budget that ran out (principal, address, streams)',
  labelNames: ['budget'],
  registers: [registry],
});

export const rate_limit_replicas = new Gauge({
  name: 'paynet_rate_limit_replicas',
  help: 'Live replicas of this service as this replica hears them; each enforces budget / replicas',
  registers: [registry],
});
