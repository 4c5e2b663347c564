import { registry } from '@paynet/platform';
import { Counter } from 'prom-client';

export const holds_commands_total = new Counter({
  name: 'paynet_holds_commands_total',
  help: 'Hold commands (place, post, void) by outcome (applied, already_applied, or the error code)',
  labelNames: ['command', 'outcome'],
  registers: [registry],
});

export const holds_expired_total = new Counter({
  name: 'paynet_holds_expired_total',
  help: 'Pending holds voided by the expiry sweeper',
  registers: [registry],
});
