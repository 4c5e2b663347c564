import { base_config_schema, port } from '@paynet/platform';
import { z } from 'zod';

/** An optional limit in minor units: unset means no limit; a bigint, never a float. */
const minor_units_limit = z
  .string()
  .regex(/^[1-9][0-9]{0,17}$/, 'must be a positive integer of minor units (at most 18 digits)')
  .transform((value) => BigInt(value))
  .optional();

const risk_settings = {
  /** Per-payment maximum; unset: no maximum. */
  RISK_MAX_AMOUNT_MINOR: minor_units_limit,
  /** Per paying account, over a rolling 60 s; unset: no limit. */
  RISK_VELOCITY_COUNT_PER_MINUTE: z.coerce.number().int().min(1, 'must be at least 1').max(1_000_000).optional(),
  RISK_VELOCITY_AMOUNT_MINOR_PER_MINUTE: minor_units_limit,
  /** The external verifier (docs/ARCHITECTURE.md, Risk); unset: none is asked. */
  RISK_VERIFY_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  RISK_VERIFY_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(800),
  /** When the verifier fails, times out or its circuit is open: allow (open) or decline (closed). */
  RISK_VERIFY_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
  /** Consecutive failures that open the circuit, and how long it stays open before one trial call. */
  RISK_VERIFY_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1_000).default(5),
  RISK_VERIFY_BREAKER_OPEN_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** How often admissions older than the velocity window are deleted. */
  RISK_SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(10_000),
};
/** API.md: an uncaptured hold expires 7 days after the pay. */
export const hold_ttl_seconds_default = 604_800;
/** A year at most: a hold is a promise the payer's money is kept, not a deposit. */
export const hold_ttl_seconds_max = 31_536_000;

export const payments_config_schema = base_config_schema
  .extend({
  PAYMENTS_PORT: port.default(3003),
  /** How often expired intents and expired holds are canceled for good (reads show expired intents canceled at once anyway). */
  EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
  ...risk_settings,
  /** How long a manual-capture payment holds the payer's money before it is released (intent canceled, reason expired). */
  HOLD_TTL_SECONDS: z.coerce.number().int().min(1).max(hold_ttl_seconds_max).default(hold_ttl_seconds_default),
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
