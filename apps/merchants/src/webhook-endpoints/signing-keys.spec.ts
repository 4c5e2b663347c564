import { signingCacheKey, signingCacheKeysOf, signingStateOf } from './signing-keys.js';
import type { SigningKey } from './webhook-endpoints.repository.js';

const open = (secret: { id: string; secret_sealed: string }) => `opened ${secret.secret_sealed}`;

function row(change: Partial<SigningKey> = {}): SigningKey {
  return {
    merchant_exists: true,
    endpoint_id: 'we_1',
    url: 'https://hooks.example/a',
    status: 'enabled',
    enabled_since_ms: '1700000000000',
    secrets: [{ id: 's2', secret_sealed: 'sealed 2', expires_at_ms: null }],
    ...change,
  };
}

describe('the cache key of a webhook signing key', () => {
  it('differs for every merchant and endpoint pair, whatever the ids hold, and for "no endpoint named"', () => {
    const pairs: [string, string | undefined][] = [
      ['a', 'b/'],
      ['a/b', undefined],
      ['a/b', ''],
      ['a', undefined],
      ['a","b', undefined],
      ['a', 'b'],
    ];
    const keys = pairs.map(([merchant_id, endpoint_id]) => signingCacheKey(merchant_id, endpoint_id));
    expect(new Set(keys).size).toBe(pairs.length);
  });

  it('a change to endpoints makes stale their keys and the merchant\'s "first endpoint" key; no endpoint, no key', () => {
    expect(signingCacheKeysOf('mch_1', ['we_1', 'we_1', 'we_2'])).toEqual([
      signingCacheKey('mch_1', undefined),
      signingCacheKey('mch_1', 'we_1'),
      signingCacheKey('mch_1', 'we_2'),
    ]);
    expect(signingCacheKeysOf('mch_1', [])).toEqual([]);
  });
});

describe('what a signing read means', () => {
  it('an enabled endpoint: its URL and secrets opened, newest first, kept while no secret ends', () => {
    const found = signingStateOf(row({ secrets: [{ id: 's2', secret_sealed: 'sealed 2', expires_at_ms: null }] }), open);
    expect(found.state).toEqual({ url: 'https://hooks.example/a', enabled_since_ms: 1_700_000_000_000, secrets: ['opened sealed 2'] });
    expect(found.verified).toEqual({ value: found.state });
  });

  it('during a rotation grace: both secrets, kept no longer than the earliest end', () => {
    const secrets = [
      { id: 's3', secret_sealed: 'sealed 3', expires_at_ms: null },
      { id: 's2', secret_sealed: 'sealed 2', expires_at_ms: 1_700_000_090_000 },
      { id: 's1', secret_sealed: 'sealed 1', expires_at_ms: 1_700_000_060_000 },
    ];
    const found = signingStateOf(row({ secrets }), open);
    expect(found.verified?.value.secrets).toEqual(['opened sealed 3', 'opened sealed 2', 'opened sealed 1']);
    expect(found.verified?.until_ms).toBe(1_700_000_060_000);
  });

  it('a missing merchant, or an endpoint disabled or gone, is answered and never kept', () => {
    expect(signingStateOf(row({ merchant_exists: false, endpoint_id: null, url: null, status: null, enabled_since_ms: null, secrets: [] }), open)).toEqual({
      state: { merchant_missing: true },
    });
    expect(signingStateOf(row({ status: 'disabled' }), open)).toEqual({ state: { url: null } });
    expect(signingStateOf(row({ endpoint_id: null, url: null, status: null, enabled_since_ms: null, secrets: [] }), open)).toEqual({ state: { url: null } });
  });
});
