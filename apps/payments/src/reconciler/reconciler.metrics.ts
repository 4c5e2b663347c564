import { registry } from '@paynet/platform';
import { Counter } from 'prom-client';

/**
 * outcome: applied (succeeded, or requires_capture for a hold) | payment_failed | refused (a re-sent hold action or refund) | already_settled (pay settled it first) | unknown (no answer: next pass);
 * step: lookup (accounts.transfers.get or holds.get decided it) | resend (the re-sent command did) | hold_action (a capture's post or a cancel's void sent again) | refund (a pending refund's transfer sent again).
 */
export const reconciler_settlements_total = new Counter({
  name: 'paynet_payment_reconciler_settlements_total',
  help: 'Payment intents left processing that the reconciler looked at, by outcome and the step that decided it',
  labelNames: ['outcome', 'step'],
  registers: [registry],
});
