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
