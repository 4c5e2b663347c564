import type { IncomingMessage } from 'node:http';
import { addressKey, claimedCredential, credentialDigest, replicaShare } from './rate-limits.js';
import { parseHeartbeat } from './replica-census.js';

describe('a replica share of a budget', () => {
  it('is the budget divided by the live replicas, rounded down, so together they never admit more', () => {
    expect(replicaShare(100, 1)).toBe(100);
    expect(replicaShare(100, 2)).toBe(50);
    expect(replicaShare(100, 3)).toBe(33);
    expect(3 * replicaShare(100, 3)).toBeLessThanOrEqual(100);
    expect(replicaShare(20, 20)).toBe(1);
  });

  it('is at least 1, and a count below 1 counts as one replica', () => {
    expect(replicaShare(2, 5)).toBe(1);
    expect(replicaShare(100, 0)).toBe(100);
  });
});

describe('the key a client address counts under', () => {
  it('is an IPv4 address as it is, and an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('is the /64 of an IPv6 address, however it is written', () => {
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});

describe('a credential digest', () => {
  it('is bounded and tells kinds and values apart, never showing the value', () => {
    const digest = credentialDigest('authorization', 'Bearer at_secret');
    expect(digest).toHaveLength(43);
    expect(digest).not.toContain('secret');
    expect(credentialDigest('merchant', 'Bearer at_secret')).not.toBe(digest);
    expect(credentialDigest('authorization', 'Bearer at_secreT')).not.toBe(digest);
  });
});

describe('the credential a request claims', () => {
  const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  it('is the key id for a merchant, a digest of the bearer token otherwise, nothing without either, read once per request', () => {
    const merchant = request({ 'x-api-key': 'mk_1' });
    const holder = request({ authorization: 'Bearer at_1' });
    expect(claimedCredential(merchant)).toBe('merchant:mk_1');
    expect(claimedCredential(holder)).toBe(credentialDigest('authorization', 'Bearer at_1'));
    expect(claimedCredential(request({}))).toBeUndefined();
    expect(claimedCredential(request({ authorization: 'Bearer at_2' }))).not.toBe(claimedCredential(holder));
    expect(claimedCredential(holder)).toBe(credentialDigest('authorization', 'Bearer at_1'));
  });
});

describe('a heartbeat on the census subject', () => {
  it('names a replica, and may say it is leaving', () => {
    expect(parseHeartbeat({ replica: 'r1' })).toEqual({ replica: 'r1', leaving: false });
    expect(parseHeartbeat({ replica: 'r1', leaving: true })).toEqual({ replica: 'r1', leaving: true });
  });

  it('is ignored when it is anything else', () => {
    expect(parseHeartbeat(null)).toBeUndefined();
    expect(parseHeartbeat('r1')).toBeUndefined();
    expect(parseHeartbeat({ replica: '' })).toBeUndefined();
    expect(parseHeartbeat({ replica: 'x'.repeat(65) })).toBeUndefined();
    expect(parseHeartbeat({ replica: 7 })).toBeUndefined();
  });
});
