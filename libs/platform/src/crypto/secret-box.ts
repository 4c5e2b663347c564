import { randomBytesFromPool } from '@paynet/contracts';
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';

const iv_bytes = 12;
const tag_bytes = 16;
const key_bytes = 32;

/**
 * AES-256-GCM for secrets at rest (API secrets, webhook secrets, stored
 * idempotent answers that show them). The sealed form names the key it was
 * sealed with (`v1.<key id>.<iv>.<tag>.<ciphertext>`), so keys can rotate:
 * seal with the current key, open with any key still configured.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly current_key_id: string;

  constructor(current_key_base64: string, previous_keys_base64: readonly string[] = []) {
    this.current_key_id = this.addKey(current_key_base64);
    for (const key of previous_keys_base64) this.addKey(key);
  }

  seal(plaintext: string, associated_data = ''): string {
    const key = this.keys.get(this.current_key_id) as Buffer;
    // From the CSPRNG in bulk: randomBytes(12) alone cost as much as the rest of a seal (measured: docs/BENCHMARKS.md).
    const iv = randomBytesFromPool(iv_bytes);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(associated_data));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'));
    return ['v1', this.current_key_id, ...parts].join('.');
  }

  /**
   * Throws when the value was tampered with, or sealed with a key we no
   * longer have: an operator's mistake (a key dropped from SECRETS_KEY_PREVIOUS
   * while values still use it), which the request answers as a bare 500 and
   * the log explains by key ids (a digest's first 8 hex digits, never a key
   * or the secret).
   */
  open(sealed: string, associated_data = ''): string {
    const [version, key_id, iv, tag, ciphertext] = sealed.split('.');
    if (version !== 'v1' || !key_id || iv === undefined || tag === undefined || ciphertext === undefined) {
      throw new Error('not a sealed secret');
    }
    const key = this.keys.get(key_id);
    if (!key) {
      throw new Error(
        `a secret sealed with key ${key_id}, which is neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS (configured: ${[...this.keys.keys()].join(', ')}): ` +
          'put that key back in SECRETS_KEY_PREVIOUS (npm run secrets:reseal moves values to the current key)',
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: tag_bytes });
    decipher.setAAD(Buffer.from(associated_data));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new Error(`a secret sealed with key ${key_id} does not authenticate: altered, or moved from the record it was sealed for`, { cause: error });
    }
  }

  private addKey(key_base64: string): string {
    const key = Buffer.from(key_base64, 'base64');
    if (key.length !== key_bytes) throw new Error(`a secrets key must be ${key_bytes} bytes`);
    const key_id = createHash('sha256').update(key).digest('hex').slice(0, 8);
    this.keys.set(key_id, key);
    return key_id;
  }

  /** What every value sealed with the current key starts with: `v1.<key id>.` (the re-seal skips those). */
  get current_prefix(): string {
    return `v1.${this.current_key_id}.`;
  }

  /** `sealed` opened and sealed again under the current key (same associated data). */
  reseal(sealed: string, associated_data = ''): string {
    return this.seal(this.open(sealed, associated_data), associated_data);
  }
}

/** The service's box: SECRETS_KEY seals, SECRETS_KEY_PREVIOUS still opens. */
export function secretBoxOf(config: { SECRETS_KEY: string; SECRETS_KEY_PREVIOUS?: readonly string[] }): SecretBox {
  return new SecretBox(config.SECRETS_KEY, config.SECRETS_KEY_PREVIOUS ?? []);
}

export const SECRET_BOX = Symbol('SECRET_BOX');
