import type { Verified } from '@paynet/platform';
import type { SigningKey } from './webhook-endpoints.repository.js';

/**
 * The kind of the opened webhook signing keys in merchants' credential cache
 * (a store of their own: an endpoint's key never meets an API key id).
 */
export const webhook_signing_kind = 'webhook_signing';
/**
 * Signing keys kept: one per merchant and endpoint push delivers to (and per
 * merchant for deliveries that name no endpoint). At most a 2 KiB URL and
 * five secrets each; past it the least recently used go first.
 */
export const webhook_signing_cache_entries_max = 10_000;

/** What a webhook to an enabled endpoint is signed with, secrets opened: what the cache keeps. */
export interface OpenedSigningKey {
  url: string;
  enabled_since_ms: number;
  /** Newest first: the current secret, then those still in a rotation's grace. */
  secrets: readonly string[];
}

/** What signing one webhook found: its merchant is gone, its endpoint is off (or gone), or the key to sign with. */
export type SigningState = { merchant_missing: true } | { url: null } | OpenedSigningKey;

/**
 * Pure: the cache key of a webhook's signing key. The merchant and the
 * endpoint asked for (none: the merchant's first), as JSON: no two pairs
 * give the same key, whatever characters the ids hold.
 */
export function signingCacheKey(merchant_id: string, endpoint_id: string | undefined): string {
  return JSON.stringify([merchant_id, endpoint_id ?? null]);
}

/**
 * Pure: the cache keys a change to these endpoints of a merchant makes
 * stale: each endpoint's own, and the merchant's "first endpoint" (it may be
 * one of them). None when no endpoint changed.
 */
export function signingCacheKeysOf(merchant_id: string, endpoint_ids: Iterable<string>): string[] {
  const keys = [...new Set(endpoint_ids)].map((endpoint_id) => signingCacheKey(merchant_id, endpoint_id));
  return keys.length === 0 ? [] : [signingCacheKey(merchant_id, undefined), ...keys];
}

/**
 * Pure: what a row of `signingKeys` means, and whether it may be kept
 * (`verified`): only an enabled endpoint's key is, until a second before its
 * earliest secret ends (a rotation's grace). A missing merchant or an
 * endpoint that is off is read every time, as a refused credential is.
 */
export function signingStateOf(row: SigningKey, open: (secret: { id: string; secret_sealed: string }) => string): { state: SigningState; verified?: Verified<OpenedSigningKey> } {
  if (!row.merchant_exists) return { state: { merchant_missing: true } };
  if (row.endpoint_id === null || row.url === null || row.status !== 'enabled' || row.enabled_since_ms === null) return { state: { url: null } };
  const key: OpenedSigningKey = { url: row.url, enabled_since_ms: Number(row.enabled_since_ms), secrets: row.secrets.map(open) };
  const ends_ms = row.secrets.flatMap((secret) => (secret.expires_at_ms === null ? [] : [Number(secret.expires_at_ms)]));
  const until_ms = ends_ms.length === 0 ? undefined : Math.min(...ends_ms);
  return { state: key, verified: until_ms === undefined ? { value: key } : { value: key, until_ms } };
}
