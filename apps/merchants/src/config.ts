import { base_config_schema, port } from '@paynet/platform';
import { z } from 'zod';

export const merchants_config_schema = base_config_schema
  .extend({
    MERCHANTS_PORT: port.default(3002),
    /** May webhook URLs point at loopback or private addresses? Default: yes, unless production. */
    WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).optional(),
    STREAM_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  })
  .transform((config) => ({
    ...config,
    webhook_allow_private: config.WEBHOOK_ALLOW_PRIVATE === undefined ? config.NODE_ENV !== 'production' : config.WEBHOOK_ALLOW_PRIVATE === 'true',
  }));
export type MerchantsConfig = ReturnType<typeof merchants_config_schema.parse>;
