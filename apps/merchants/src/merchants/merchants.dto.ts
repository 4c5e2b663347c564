import { currency } from '@paynet/platform';
import { z } from 'zod';
import { endpoint_url as webhook_url } from '../webhook-endpoints/webhook-endpoints.dto.js';

export const create_merchant_body = z.strictObject({
  name: z.string().trim().min(1).max(200),
  currency,
  webhook_url: webhook_url.nullable().optional(),
  fee_bps: z.number().int().min(0).max(10_000).optional(),
});
export type CreateMerchantBody = z.infer<typeof create_merchant_body>;

export const webhook_endpoint_body = z.strictObject({ url: webhook_url.nullable() });

export const rotate_body = z.strictObject({
  grace_seconds: z.number().int().min(0).max(7 * 86_400).optional(),
});
