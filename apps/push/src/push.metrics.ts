import { registry } from '@paynet/platform';
import { Counter, Gauge, Histogram } from 'prom-client';

/** push's own metrics, on the platform's registry (GET /metrics). */

export const events_recorded_total = new Counter({
  name: 'paynet_push_events_recorded_total',
  help: 'Events taken off the durable consumer, by result',
  labelNames: ['result'],
  registers: [registry],
});

export const webhook_attempts_total = new Counter({
  name: 'paynet_webhook_attempts_total',
  help: 'Webhook HTTP attempts, by what the delivery became',
  labelNames: ['status'],
  registers: [registry],
});

export const webhook_deliveries_in_flight = new Gauge({
  name: 'paynet_webhook_deliveries_in_flight',
  help: 'Webhook POSTs open on this replica (a merchant slot each, freed at the answer)',
  registers: [registry],
});

export const stream_connections = new Gauge({
  name: 'paynet_stream_connections',
  help: 'Open WebSocket stream connections on this replica',
  registers: [registry],
});

export const stream_frames_sent_total = new Counter({
  name: 'paynet_stream_frames_sent_total',
  help: 'Event frames sent to WebSocket clients',
  registers: [registry],
});

export const stream_slow_clients_closed_total = new Counter({
  name: 'paynet_stream_slow_clients_closed_total',
  help: 'WebSocket clients closed because they did not keep up',
  registers: [registry],
});

/** The stream's last hop: from an event's store in JetStream to its frames queued on this replica's sockets. */
export const stream_fanout_lag_seconds = new Histogram({
  name: 'paynet_stream_fanout_lag_seconds',
  help: 'From an event stored in JetStream to its live frames queued on the WebSocket connections',
  buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});
