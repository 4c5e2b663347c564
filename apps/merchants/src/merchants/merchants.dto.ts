import { currency } from '@paynet/platform';
import { z } from 'zod';

export const webhook_url = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without credentials');

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
