import { base_config_schema, port, webhook_allow_private_setting, webhookAllowPrivate } from '@paynet/platform';
import { z } from 'zod';

/** The retry delays are multiplied by this; 1 in production, small in tests. */
export const webhook_retry_scale_max = 1_000;

export const push_config_schema = base_config_schema
  .extend({
    PUSH_PORT: port.default(3004),
    WEBHOOK_RETRY_SCALE: z.coerce.number().min(0).max(webhook_retry_scale_max).default(1),
    /** May webhooks go to loopback or private addresses? Default: yes, unless production. */
    WEBHOOK_ALLOW_PRIVATE: webhook_allow_private_setting,
  })
  .transform((config) => ({
    ...config,
    webhook_allow_private: webhookAllowPrivate(config.WEBHOOK_ALLOW_PRIVATE, config.NODE_ENV),
  }));
export type PushConfig = ReturnType<typeof push_config_schema.parse>;
