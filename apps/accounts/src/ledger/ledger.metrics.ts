import { registry } from '@paynet/platform';
import { Counter, Histogram } from 'prom-client';

export const ledger_transfers_total = new Counter({
  name: 'paynet_ledger_transfers_total',
  help: 'Transfer commands by outcome (applied, already_applied, or the error code)',
  labelNames: ['outcome'],
  registers: [registry],
});

export const ledger_batch_size = new Histogram({
  name: 'paynet_ledger_batch_size',
  help: 'Transfers applied per database transaction',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  registers: [registry],
});

export const ledger_batch_duration_seconds = new Histogram({
  name: 'paynet_ledger_batch_duration_seconds',
  help: 'Time to apply one transfer batch: its database transaction, commit included',
  buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});
