import { randomBytes } from 'node:crypto';

/** Type prefixes of every public id (API.md, Conventions). */
export const IdPrefix = {
  account: 'acct',
  merchant: 'mer',
  payment_intent: 'pi',
  refund: 're',
  event: 'evt',
  transaction: 'txn',
  api_key: 'mk',
  delivery: 'whd',
} as const;
export type IdPrefix = (typeof IdPrefix)[keyof typeof IdPrefix];

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const id_random_length = 24;

/** A random base62 string; 24 characters carry about 143 bits. */
export function randomToken(length: number = id_random_length): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  // Rejection sampling keeps every character equally likely.
  for (let i = 0; i < bytes.length && out.length < length; i++) {
    const byte = bytes[i] as number;
    if (byte < 248) out += alphabet[byte % 62];
  }
  return out.length === length ? out : out + randomToken(length - out.length);
}

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomToken()}`;
}

const id_pattern = /^[a-z]+_[0-9A-Za-z]{8,64}$/;

/** True when `value` looks like an id of that type (it may still not exist). */
export function isId(prefix: IdPrefix, value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(`${prefix}_`) && id_pattern.test(value);
}
