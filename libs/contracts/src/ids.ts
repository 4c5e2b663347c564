import { randomFillSync } from 'node:crypto';

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
  webhook_endpoint: 'we',
} as const;
export type IdPrefix = (typeof IdPrefix)[keyof typeof IdPrefix];

const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const id_random_length = 24;

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time: one call into the
 * CSPRNG per ~80 ids instead of one per id (ids are made per statement line,
 * on the ledger's hot path), and for SecretBox's IVs (a sealed idempotent
 * answer per request). Every byte is used once.
 */
const random_pool_bytes = 4_096;
const random_pool = Buffer.alloc(random_pool_bytes);
let random_pool_offset = random_pool_bytes;

export function randomBytesFromPool(length: number): Buffer {
  if (length > random_pool_bytes) return randomFillSync(Buffer.alloc(length));
  if (random_pool_offset + length > random_pool_bytes) {
    randomFillSync(random_pool);
    random_pool_offset = 0;
  }
  const bytes = Buffer.from(random_pool.subarray(random_pool_offset, random_pool_offset + length));
  random_pool_offset += length;
  return bytes;
}

/** A random base62 string; 24 characters carry about 143 bits. */
export function randomToken(length: number = id_random_length): string {
  const bytes = randomBytesFromPool(length * 2);
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
