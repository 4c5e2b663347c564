import { randomBytes } from 'node:crypto';
import { SecretBox, secretBoxOf } from './secret-box.js';

const key = () => randomBytes(32).toString('base64');

describe('SecretBox (AES-256-GCM at rest)', () => {
  it('opens what it sealed, and the sealed form does not contain the secret', () => {
    const box = new SecretBox(key());
    const sealed = box.seal('sk_live_secret', 'mk_1');
    expect(sealed).not.toContain('sk_live_secret');
    expect(box.open(sealed, 'mk_1')).toBe('sk_live_secret');
  });

  it('seals the same secret differently every time (random IV)', () => {
    const box = new SecretBox(key());
    expect(box.seal('x')).not.toBe(box.seal('x'));
  });

  it('refuses a tampered ciphertext and a secret moved to another record', () => {
    const box = new SecretBox(key());
    const sealed = box.seal('secret', 'mer_a');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[4] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    parts[4] = body.toString('base64url');
    expect(() => box.open(parts.join('.'), 'mer_a')).toThrow(/does not authenticate/);
    expect(() => box.open(sealed, 'mer_b')).toThrow(/does not authenticate/);
  });

  it('opens secrets sealed with a previous key after rotation, and seals with the new one', () => {
    const old_key = key();
    const sealed_before = new SecretBox(old_key).seal('secret');
    const rotated = new SecretBox(key(), [old_key]);
    expect(rotated.open(sealed_before)).toBe('secret');
    expect(rotated.seal('secret').split('.')[1]).not.toBe(sealed_before.split('.')[1]);
  });

  it('says which key a value it cannot open was sealed with, and which keys it has, never a key or the secret', () => {
    const [old_key, new_key] = [key(), key()];
    const sealed_before = new SecretBox(old_key).seal('sk_live_secret');
    const old_id = sealed_before.split('.')[1] as string;
    const box = new SecretBox(new_key);
    const new_id = box.current_prefix.split('.')[1] as string;
    let message = '';
    try {
      box.open(sealed_before);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(`sealed with key ${old_id}, which is neither SECRETS_KEY nor in SECRETS_KEY_PREVIOUS (configured: ${new_id})`);
    for (const secret of ['sk_live_secret', old_key, new_key]) expect(message).not.toContain(secret);
  });

  it('re-seals under the current key with the same associated data, and says which values are current', () => {
    const old_key = key();
    const sealed_before = new SecretBox(old_key).seal('secret', 'mk_1');
    const new_key = key();
    const rotated = secretBoxOf({ SECRETS_KEY: new_key, SECRETS_KEY_PREVIOUS: [old_key] });
    const resealed = rotated.reseal(sealed_before, 'mk_1');
    expect(resealed.startsWith(rotated.current_prefix)).toBe(true);
    expect(sealed_before.startsWith(rotated.current_prefix)).toBe(false);
    expect(new SecretBox(new_key).open(resealed, 'mk_1')).toBe('secret');
    expect(() => rotated.reseal(sealed_before, 'mk_2')).toThrow();
  });

  it('accepts only 32-byte keys', () => {
    expect(() => new SecretBox(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });
});
