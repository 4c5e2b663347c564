import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes: 256 bits, as much as the HMAC-SHA256 key can use. */
export const secret_bytes = 32;

/** A merchant API secret: `sk_` and 32 random bytes, base64url. */
export function generateApiSecret(): string {
  return `sk_${randomBytes(secret_bytes).toString('base64url')}`;
}

/** Hex SHA-256 of a bearer token: holder tokens are stored only as this. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Compares two strings in time that depends on neither their content nor,
 * through timingSafeEqual, their length: both are hashed to 32 bytes first.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const a_digest = createHash('sha256').update(a, 'utf8').digest();
  const b_digest = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(a_digest, b_digest) && a.length === b.length;
}

/** Both buffers must be of equal length; callers check that first, which leaks only the (public) length. */
export function constantTimeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
