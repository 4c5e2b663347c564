import { currencies, type Currency } from '@paynet/contracts';
import { entry_lines_max } from '@paynet/ledger';
import { z } from 'zod';

/** Messages from other services are checked at the edge as strictly as HTTP bodies. */
const amount_wire = z.string().regex(/^[1-9][0-9]{0,12}$/, 'must be a positive decimal integer string');

export const post_transfer_message = z.strictObject({
  transfer_id: z.string().min(1).max(128),
  currency: z.enum(currencies as [Currency, ...Currency[]]),
  description: z.string().max(500),
  payment_intent: z.string().max(128).optional(),
  lines: z
    .array(z.strictObject({ account: z.string().min(1).max(128), direction: z.enum(['debit', 'credit']), amount_minor: amount_wire }))
    .min(2)
    .max(entry_lines_max),
});

export const get_transfer_message = z.strictObject({ transfer_id: z.string().min(1).max(128) });
