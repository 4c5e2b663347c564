import { base_config_schema, port } from '@paynet/platform';
import { z } from 'zod';

export const payments_config_schema = base_config_schema.extend({
  PAYMENTS_PORT: port.default(3003),
  /** How often expired intents are canceled for good (reads show them canceled at once anyway). */
  EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
});
export type PaymentsConfig = ReturnType<typeof payments_config_schema.parse>;
