import { Inject, Injectable } from '@nestjs/common';
import { ApiError, type AuthenticateRequest, ErrorCode, IdPrefix, newId, randomToken, type SigningKey, type VerifyStreamTokenReply } from '@paynet/contracts';
import { CredentialCache, SECRET_BOX, SecretBox, stream_token_prefix, updateReturning } from '@paynet/platform';
import { generateApiSecret, hashToken, isValidNonce, verifyRequest } from '@paynet/signatures';
import { DataSource, type EntityManager } from 'typeorm';
import { NonceBatcher, nonceKey, NonceQueueFullError, type NonceUse } from './nonce-batch.js';

/** API.md: a timestamp more than 300 s from our clock is refused. */
export const signature_tolerance_seconds = 300;
/** Nonces are kept for the whole window in both directions of clock skew. */
export const nonce_retention_seconds = 2 * signature_tolerance_seconds;
export const rotation_grace_seconds_default = 3_600;

export interface IssuedKey {
  api_key: string;
  api_secret: string;
}

/** The keys a rotation cut short, and when they stop (now, for `grace_seconds: 0`). */
export interface ShortenedKeys {
  ids: string[];
  expires_at: number;
}

/** What checking a signature needs of a live key: kept by the credential cache, keyed by the key's id. */
interface LiveKey {
  merchant_id: string;
  /** Opened: the cache keeps it in memory, as the check had it anyway. */
  secret: string;
  /** Unix seconds; null while the key has no end. */
  expires_at: number | null;
}

/** A signed request's merchant and the key that signed it. */
export interface SignedBy {
  merchant_id: string;
  api_key: SigningKey;
}

/**
 * Nonce writes running at once: a signed request's nonce that arrives while one write runs (about
 * 10 ms on the 2-core test machine under a flood, docs/BENCHMARKS.md, Flood) starts its own instead
 * of waiting for it; two keep the batches of a saturated replica large (one statement for many nonces).
 */
const nonce_writes_in_flight = 2;

/**
 * API keys, request signatures, nonces and stream tokens. The API secret is
 * sealed at rest and opened only here, to check a signature; it never leaves
 * this service. Live keys are kept by the credential cache (every replica
 * drops a key before its rotation is answered); nonces are always written.
 */
@Injectable()
export class CredentialsService {
  private readonly nonces = new NonceBatcher((uses) => this.insertNonces(uses), nonce_writes_in_flight);

  constructor(
    private readonly dataSource: DataSource,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    private readonly cache: CredentialCache,
  ) {}

  async issueKey(manager: EntityManager, merchant_id: string): Promise<IssuedKey> {
    const api_key = newId(IdPrefix.api_key);
    const api_secret = generateApiSecret();
    await manager.query('INSERT INTO api_keys (id, merchant_id, secret_sealed) VALUES ($1, $2, $3)', [
      api_key,
      merchant_id,
      this.box.seal(api_secret, api_key),
    ]);
    return { api_key, api_secret };
  }

  /**
   * A new key; the merchant's other live keys stop working after the grace
   * period (0: at once), none later than they would have. Answers the keys
   * it cut short, for push to close their streams; the caller commits, then
   * `forgetKeys` them. Refused (503, nothing changed) when this replica could
   * not tell the others' caches.
   */
  async rotateKey(manager: EntityManager, merchant_id: string, grace_seconds: number): Promise<IssuedKey & { shortened: ShortenedKeys }> {
    this.cache.assertCanInvalidate();
    // Whole seconds: the end push is told (Unix seconds) is the end the key has.
    const rows = await updateReturning<{ id: string; expires_at: string }>(
      manager,
      `UPDATE api_keys SET expires_at = date_trunc('second', now()) + make_interval(secs => $2)
       WHERE merchant_id = $1 AND (expires_at IS NULL OR expires_at > date_trunc('second', now()) + make_interval(secs => $2))
       RETURNING id, extract(epoch FROM expires_at)::bigint AS expires_at`,
      [merchant_id, grace_seconds],
    );
    const key = await this.issueKey(manager, merchant_id);
    const expires_at = rows[0] ? Number(rows[0].expires_at) : Math.floor(Date.now() / 1000) + grace_seconds;
    return { ...key, shortened: { ids: rows.map((row) => row.id), expires_at } };
  }

  /** After a change to these keys committed: answers once no replica's cache holds them as they were. */
  forgetKeys(ids: readonly string[], committed_at_ms: number): Promise<void> {
    return this.cache.invalidate(ids, committed_at_ms);
  }

  /** Checks a signed request (API.md, Authentication) and answers the merchant id and the signing key, or throws 401. */
  async authenticate(request: AuthenticateRequest): Promise<SignedBy> {
    const { api_key, timestamp, nonce, signature } = request;
    if (!api_key || !timestamp || !nonce || !signature) {
      throw ApiError.unauthorized(ErrorCode.authentication_required, 'Signed requests need X-Api-Key, X-Timestamp, X-Nonce and X-Signature.');
    }
    if (!isValidNonce(nonce)) {
      throw ApiError.unauthorized(ErrorCode.authentication_required, 'X-Nonce must be 16 to 64 characters of [A-Za-z0-9_-].');
    }
    const key = await this.liveKey(api_key);
    const result = verifyRequest({
      secret: key.secret,
      timestamp,
      nonce,
      method: request.method,
      path_with_query: request.path_with_query,
      body: Buffer.from(request.body_base64, 'base64'),
      signature_header: signature,
      now_seconds: Math.floor(Date.now() / 1000),
      tolerance_seconds: signature_tolerance_seconds,
    });
    if (!result.ok) throw ApiError.unauthorized(ErrorCode[result.code], signatureMessage(result.code));
    await this.useNonce(api_key, nonce);
    return { merchant_id: key.merchant_id, api_key: { id: api_key, expires_at: key.expires_at } };
  }

  /** A stream token under the key that asked for it: it stops when that key stops, or at its own expiry. */
  async issueStreamToken(merchant_id: string, api_key_id: string, ttl_seconds: number): Promise<{ token: string; expires_at: number }> {
    const token = `${stream_token_prefix}${randomToken(40)}`;
    const rows: { expires_at: string }[] = await this.dataSource.query(
      `INSERT INTO stream_tokens (token_hash, merchant_id, api_key_id, expires_at) VALUES ($1, $2, $3, date_trunc('second', now()) + make_interval(secs => $4))
       RETURNING floor(extract(epoch FROM expires_at))::bigint AS expires_at`,
      [hashToken(token), merchant_id, api_key_id, ttl_seconds],
    );
    return { token, expires_at: Number(rows[0]?.expires_at) };
  }

  /** A live token under a live key; `expires_at` is the earlier of the two ends. */
  async verifyStreamToken(token: string): Promise<VerifyStreamTokenReply> {
    const rows: { merchant_id: string; api_key_id: string; expires_at: string }[] = await this.dataSource.query(
      `SELECT s.merchant_id, s.api_key_id, floor(extract(epoch FROM LEAST(s.expires_at, k.expires_at)))::bigint AS expires_at
       FROM stream_tokens s JOIN api_keys k ON k.id = s.api_key_id
       WHERE s.token_hash = $1 AND s.expires_at > now() AND (k.expires_at IS NULL OR k.expires_at > now())`,
      [hashToken(token)],
    );
    const row = rows[0];
    if (!row) throw ApiError.unauthorized(ErrorCode.invalid_token, 'Invalid or expired stream token, or its API key was revoked.');
    return { merchant_id: row.merchant_id, expires_at: Number(row.expires_at), credential: row.api_key_id };
  }

  /** Through the credential cache; an unknown, revoked or expired key is read every time (never kept). */
  private async liveKey(api_key: string): Promise<LiveKey> {
    const key = await this.cache.lookup<LiveKey>(api_key, async () => {
      const rows: { merchant_id: string; secret_sealed: string; expires_at: string | null }[] = await this.dataSource.query(
        `SELECT merchant_id, secret_sealed, floor(extract(epoch FROM expires_at))::bigint AS expires_at
         FROM api_keys WHERE id = $1 AND (expires_at IS NULL OR expires_at > now())`,
        [api_key],
      );
      const row = rows[0];
      if (!row) return undefined;
      const expires_at = row.expires_at === null ? null : Number(row.expires_at);
      const value = { merchant_id: row.merchant_id, secret: this.box.open(row.secret_sealed, api_key), expires_at };
      return { value, ...(expires_at !== null && { until_ms: expires_at * 1000 }) };
    });
    if (!key) throw ApiError.unauthorized(ErrorCode.invalid_api_key, 'Unknown, revoked or expired API key.');
    return key;
  }

  /** A nonce seen again with the same key inside the window is a replay. Shared by every replica (PostgreSQL). */
  private async useNonce(api_key: string, nonce: string): Promise<void> {
    const fresh = await this.nonces.use(api_key, nonce).catch((error: unknown) => {
      if (error instanceof NonceQueueFullError) throw ApiError.unavailable('Too many signed requests at once; retry with a new X-Nonce.');
      throw error;
    });
    if (!fresh) throw ApiError.unauthorized(ErrorCode.replayed_request, 'This nonce was already used; sign the retry with a new X-Nonce.');
  }

  /** The nonces of concurrent requests in one statement (in key order: two replicas' batches never wait on each other in a cycle); answers those that were new. */
  private async insertNonces(uses: readonly NonceUse[]): Promise<ReadonlySet<string>> {
    const rows: { api_key_id: string; nonce: string }[] = await this.dataSource.query(
      `INSERT INTO request_nonces (api_key_id, nonce, expires_at)
       SELECT api_key_id, nonce, now() + make_interval(secs => $3) FROM unnest($1::text[], $2::text[]) AS t(api_key_id, nonce)
       ORDER BY 1, 2
       ON CONFLICT DO NOTHING RETURNING api_key_id, nonce`,
      [uses.map((use) => use.api_key), uses.map((use) => use.nonce), nonce_retention_seconds],
    );
    return new Set(rows.map((row) => nonceKey({ api_key: row.api_key_id, nonce: row.nonce })));
  }
}

function signatureMessage(code: 'authentication_required' | 'timestamp_out_of_tolerance' | 'invalid_signature'): string {
  switch (code) {
    case 'authentication_required':
      return 'The request signature headers are malformed.';
    case 'timestamp_out_of_tolerance':
      return `X-Timestamp is more than ${signature_tolerance_seconds} s from the server's clock.`;
    case 'invalid_signature':
      return 'The signature does not match the request.';
  }
}
