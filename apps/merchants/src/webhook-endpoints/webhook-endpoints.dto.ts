import { z } from 'zod';
import { all_events, merchant_event_types } from './event-filter.js';

/** API.md: at most 16 endpoints per merchant. */
export const webhook_endpoints_per_merchant_max = 16;
export const rotation_grace_seconds_max = 7 * 86_400;
export const rotation_grace_seconds_default = 86_400;
export const endpoint_description_length_max = 500;

/** The URL's own shape; the guard in the platform judges where it may point. */
export const endpoint_url = z.string().min(1).max(2_048);
const enabled_events = z
  .array(z.enum([all_events, ...merchant_event_types]))
  .min(1)
  .max(merchant_event_types.length + 1)
  .refine((events) => new Set(events).size === events.length, 'must not repeat an event type');
const description = z.string().max(endpoint_description_length_max).nullable();

export const create_endpoint_body = z.strictObject({
  url: endpoint_url,
  enabled_events: enabled_events.optional(),
  description: description.optional(),
});
export type CreateEndpointBody = z.infer<typeof create_endpoint_body>;

export const update_endpoint_body = z.strictObject({
  url: endpoint_url.optional(),
  enabled_events: enabled_events.optional(),
  description: description.optional(),
  status: z.enum(['enabled', 'disabled']).optional(),
});
export type UpdateEndpointBody = z.infer<typeof update_endpoint_body>;

export const rotate_secret_body = z.strictObject({
  grace_seconds: z.number().int().min(0).max(rotation_grace_seconds_max).optional(),
});
