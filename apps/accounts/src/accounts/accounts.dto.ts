import { amount_minor, currency } from '@paynet/platform';
import { z } from 'zod';

export const create_account_body = z.strictObject({
  currency,
  owner_name: z.string().trim().min(1).max(200),
});

export const deposit_body = z.strictObject({ amount: amount_minor });

export const account_id_param = z.string().regex(/^acct_[0-9A-Za-z]{8,64}$/);

/** Routes that take no fields: an empty body or `{}`, anything else is an unknown parameter. */
export const empty_body = z.strictObject({});
