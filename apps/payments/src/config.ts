import { base_config_schema, port } from '@paynet/platform';
import { z } from 'zod';

export const payments_config_schema = base_config_schema
  .extend({
    PAYMENTS_PORT: port.default(3003),
    /** How often expired intents are canceled for good (reads show them canceled at once anyway). */
    EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
    /** How often the reconciler looks for payments left processing by an unanswered ledger command. */
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
    /**
     * How long after its command was last sent an intent still processing counts as stuck. Longer than
     * NATS_REQUEST_TIMEOUT_MS, so the reconciler never settles a payment whose own request may still answer.
     */
    RECONCILE_AFTER_MS: z.coerce.number().int().min(200).max(3_600_000).default(30_000),
  })
  .refine((config) => config.RECONCILE_AFTER_MS > config.NATS_REQUEST_TIMEOUT_MS, {
    message: 'must be longer than NATS_REQUEST_TIMEOUT_MS',
    path: ['RECONCILE_AFTER_MS'],
  });
export type PaymentsConfig = ReturnType<typeof payments_config_schema.parse>;
