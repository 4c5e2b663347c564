import { base_config_schema, port } from '@paynet/platform';
import { z } from 'zod';

/** The retry delays are multiplied by this; 1 in production, small in tests. */
export const webhook_retry_scale_max = 1_000;

/** Ten years: more is a typo, not a policy. */
export const event_retention_days_max = 3_650;
/** A replay is sent from memory in one go: bounded, so one resume cannot hold the replica. */
export const stream_replay_events_max = 100_000;

export const push_config_schema = base_config_schema
  .extend({
    PUSH_PORT: port.default(3004),
    WEBHOOK_RETRY_SCALE: z.coerce.number().min(0).max(webhook_retry_scale_max).default(1),
    /** May webhooks go to loopback or private addresses? Default: yes, unless production. */
    WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).optional(),
    /** API.md: events and their webhook deliveries are kept this many days (at least 1), then deleted. */
    EVENT_RETENTION_DAYS: z.coerce.number().int().min(1, 'must be at least 1 (API.md)').max(event_retention_days_max).default(30),
    /** How often the retention sweeper looks for events past EVENT_RETENTION_DAYS. */
    EVENT_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
    /** A resume that missed more events than this answers `recovered: false`: the client re-reads over HTTP. */
    STREAM_REPLAY_EVENTS_MAX: z.coerce.number().int().min(1).max(stream_replay_events_max).default(1_000),
  })
  .transform((config) => ({
    ...config,
    webhook_allow_private: config.WEBHOOK_ALLOW_PRIVATE === undefined ? config.NODE_ENV !== 'production' : config.WEBHOOK_ALLOW_PRIVATE === 'true',
  }));
export type PushConfig = ReturnType<typeof push_config_schema.parse>;
