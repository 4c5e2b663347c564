import { amount_minor } from '@paynet/platform';
import { z } from 'zod';

export const refund_reason_length_max = 500;

/** `amount` defaults to all that is left to refund. */
export const create_refund_body = z.strictObject({
  amount: amount_minor.optional(),
  reason: z.string().trim().min(1).max(refund_reason_length_max).optional(),
});
export type CreateRefundBody = z.infer<typeof create_refund_body>;
