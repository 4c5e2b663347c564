import { amount_minor_max, currencies, type Currency } from '@paynet/contracts';
import { expires_at_max, id_length_max } from '@paynet/ledger';
import { z } from 'zod';

/** Messages from other services are checked at the edge as strictly as HTTP bodies; amounts become bigint here. */
const id = z.string().min(1).max(id_length_max);
const amount_wire = z
  .string()
  .regex(/^[1-9][0-9]{0,12}$/, 'must be a positive decimal integer string')
  .transform((value) => BigInt(value))
  .refine((value) => value <= amount_minor_max, `must be at most ${amount_minor_max}`);
const fee_wire = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,12})$/, 'must be a decimal integer string')
  .transform((value) => BigInt(value));

export const place_hold_message = z.strictObject({
  hold_id: id,
  currency: z.enum(currencies as [Currency, ...Currency[]]),
  debit_account: id,
  credit_account: id,
  amount_minor: amount_wire,
  expires_at: z.number().int().min(0).max(expires_at_max),
  description: z.string().max(500),
  payment_intent: id.optional(),
});
export type PlaceHoldInput = z.infer<typeof place_hold_message>;

export const post_hold_message = z
  .strictObject({ hold_id: id, amount_minor: amount_wire, fee_minor: fee_wire.optional() })
  // The fee comes out of what the credit account just received, so it can always be paid.
  .refine((message) => (message.fee_minor ?? 0n) <= message.amount_minor, { message: 'must be at most amount_minor', path: ['fee_minor'] });
export type PostHoldInput = z.infer<typeof post_hold_message>;

export const hold_id_message = z.strictObject({ hold_id: id });
