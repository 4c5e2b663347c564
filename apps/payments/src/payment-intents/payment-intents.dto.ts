import { amount_minor, currency, integerQueryParameter } from '@paynet/platform';
import { z } from 'zod';

export const expires_in_seconds_max = 2_592_000;
export const expires_in_seconds_default = 86_400;

export const create_payment_intent_body = z.strictObject({
  amount: amount_minor,
  currency,
  reference: z.string().trim().min(1).max(200),
  description: z.string().max(1_000).optional(),
  capture_method: z.enum(['automatic', 'manual']).default('automatic'),
  expires_in: z.number().int().min(1).max(expires_in_seconds_max).default(expires_in_seconds_default),
});
export type CreatePaymentIntentBody = z.infer<typeof create_payment_intent_body>;

export const pay_body = z.strictObject({ account: z.string().min(1).max(128) });

export const list_payment_intents_query = z.strictObject({
  limit: integerQueryParameter({ min: 1, max: 100 }).default(10),
  starting_after: z.string().min(1).max(128).optional(),
  status: z.enum(['requires_payment', 'processing', 'requires_capture', 'succeeded', 'canceled']).optional(),
});

/** Capture: `amount` defaults to all that is held. */
export const capture_body = z.strictObject({ amount: amount_minor.optional() });

/** Cancel takes no parameters; anything sent is refused as unknown. */
export const cancel_body = z.strictObject({});
