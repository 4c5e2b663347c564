import { createHash } from 'node:crypto';
import { constantTimeEqual, constantTimeEqualBytes, generateApiSecret, hashToken } from './secrets.js';

describe('secrets', () => {
  it('makes API secrets of sk_ and 32 random bytes in base64url, never the same twice', () => {
    const secrets = new Set(Array.from({ length: 100 }, generateApiSecret));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) {
      expect(secret).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret.slice(3), 'base64url')).toHaveLength(32);
    }
  });

  it('stores tokens as their hex SHA-256 (vector from sha256sum)', () => {
    expect(hashToken('secret-token')).toBe('930bbdc51b6aed5c2a5678fd6e28dee7a05e8a4b643cfc0b4427c3efb86c0d94');
    expect(hashToken('ü')).toBe(createHash('sha256').update(Buffer.from('ü', 'utf8')).digest('hex'));
  });

  it('compares strings of any length without throwing', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
    expect(constantTimeEqualBytes(Buffer.from('ab'), Buffer.from('abc'))).toBe(false);
    expect(constantTimeEqualBytes(Buffer.from('ab'), Buffer.from('ab'))).toBe(true);
  });
});
