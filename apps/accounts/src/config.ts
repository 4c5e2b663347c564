import { z } from 'zod';
import { base_config_schema, port } from '@paynet/platform';

export const accounts_config_schema = base_config_schema.extend({
  ACCOUNTS_PORT: port.default(3001),
  /** How often each replica voids expired holds (a few seconds; tests make it shorter). */
  HOLD_SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
  /** Life of a holder stream token (API.md: default 1 h); tests make it a few seconds. */
  STREAM_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3_600),
});
export type AccountsConfig = ReturnType<typeof accounts_config_schema.parse>;
