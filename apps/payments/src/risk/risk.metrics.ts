import { registry } from '@paynet/platform';
import { Counter } from 'prom-client';

/** payments' risk metrics, on the platform's registry (GET /metrics). */

export const risk_decisions_total = new Counter({
  name: 'paynet_risk_decisions_total',
  help: 'Risk decisions on pay attempts, by rule (none when every rule allowed) and outcome',
  labelNames: ['rule', 'outcome'],
  registers: [registry],
});

export const risk_verifier_calls_total = new Counter({
  name: 'paynet_risk_verifier_calls_total',
  help: 'Calls to the external risk verifier, by result (allow, decline, timeout, error, circuit_open)',
  labelNames: ['result'],
  registers: [registry],
});
