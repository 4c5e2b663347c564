import { base_config_schema, port, webhook_allow_private_setting, webhookAllowPrivate } from '@paynet/platform';
import { z } from 'zod';

export const merchants_config_schema = base_config_schema
  .extend({
    MERCHANTS_PORT: port.default(3002),
    /** May webhook URLs point at loopback or private addresses? Default: yes, unless production. */
    WEBHOOK_ALLOW_PRIVATE: webhook_allow_private_setting,
    STREAM_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  })
  .transform((config) => ({
    ...config,
    webhook_allow_private: webhookAllowPrivate(config.WEBHOOK_ALLOW_PRIVATE, config.NODE_ENV),
  }));
export type MerchantsConfig = ReturnType<typeof merchants_config_schema.parse>;
