import { base_config_schema, port } from '@paynet/platform';
import { z } from 'zod';

/** API.md: an uncaptured hold expires 7 days after the pay. */
export const hold_ttl_seconds_default = 604_800;
/** A year at most: a hold is a promise the payer's money is kept, not a deposit. */
export const hold_ttl_seconds_max = 31_536_000;

export const payments_config_schema = base_config_schema.extend({
  PAYMENTS_PORT: port.default(3003),
  /** How often expired intents and expired holds are canceled for good (reads show expired intents canceled at once anyway). */
  EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
  /** How long a manual-capture payment holds the payer's money before it is released (intent canceled, reason expired). */
  HOLD_TTL_SECONDS: z.coerce.number().int().min(1).max(hold_ttl_seconds_max).default(hold_ttl_seconds_default),
  /** How often refunds whose ledger answer was lost are settled by sending the same transfer again. */
  REFUND_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
});
export type PaymentsConfig = ReturnType<typeof payments_config_schema.parse>;
