import { CredentialStore, invalidationSettled, parseInvalidation, type Verified } from './credential-cache.js';

/** A clock the test moves by hand. */
class ManualClock {
  ms = 1_000;
  now(): number {
    return this.ms;
  }
}

/** A store of strings and a counting loader: `reads` says how many full checks ran. */
function storeWith(options: { max_entries?: number; ttl_ms?: number; hearing?: () => boolean } = {}) {
  const clock = new ManualClock();
  const store = new CredentialStore<string>({ max_entries: options.max_entries ?? 10, ttl_ms: options.ttl_ms ?? 60_000, clock }, options.hearing ?? (() => true));
  const reads: string[] = [];
  const load =
    (key: string, answer: Verified<string> | undefined = { value: `principal of ${key}` }) =>
    async (): Promise<Verified<string> | undefined> => {
      reads.push(key);
      return answer;
    };
  /** A check that fails: the credential is unknown. */
  const refuse = (key: string) => async (): Promise<undefined> => {
    reads.push(key);
    return undefined;
  };
  return { store, clock, reads, load, refuse };
}

describe('the credential store', () => {
  it('answers a verified credential from memory after the first full check', async () => {
    const { store, reads, load } = storeWith();
    expect(await store.get('mk_1', load('mk_1'))).toBe('principal of mk_1');
    expect(await store.get('mk_1', load('mk_1'))).toBe('principal of mk_1');
    expect(reads).toEqual(['mk_1']);
  });

  it('never keeps a failed check: an unknown credential, or a read that threw, is checked in full every time', async () => {
    const { store, reads, refuse } = storeWith();
    expect(await store.get('unknown', refuse('unknown'))).toBeUndefined();
    expect(await store.get('unknown', refuse('unknown'))).toBeUndefined();
    const failing = async (): Promise<Verified<string>> => {
      reads.push('broken');
      throw new Error('database down');
    };
    await expect(store.get('broken', failing)).rejects.toThrow('database down');
    await expect(store.get('broken', failing)).rejects.toThrow('database down');
    expect(reads).toEqual(['unknown', 'unknown', 'broken', 'broken']);
  });

  it('neither uses nor keeps anything while the replica cannot prove it hears invalidations', async () => {
    let hearing = true;
    const { store, reads, load } = storeWith({ hearing: () => hearing });
    await store.get('mk_1', load('mk_1'));
    hearing = false;
    await store.get('mk_1', load('mk_1'));
    await store.get('mk_2', load('mk_2'));
    hearing = true;
    await store.get('mk_2', load('mk_2'));
    expect(reads).toEqual(['mk_1', 'mk_1', 'mk_2', 'mk_2']);
  });

  it('checks a dropped credential in full again, and does not keep a read that a drop overtook', async () => {
    const { store, reads, load } = storeWith();
    await store.get('mk_1', load('mk_1'));
    store.drop(['mk_1']);
    await store.get('mk_1', load('mk_1'));
    expect(reads).toEqual(['mk_1', 'mk_1']);

    let release: () => void = () => undefined;
    const slow = store.get('mk_2', async () => {
      reads.push('mk_2');
      await new Promise<void>((resolve) => (release = resolve));
      return { value: 'read before the change committed' };
    });
    store.drop(['mk_2']);
    release();
    await slow;
    await store.get('mk_2', load('mk_2'));
    expect(reads).toEqual(['mk_1', 'mk_1', 'mk_2', 'mk_2']);
  });

  it('forgets everything on clear', async () => {
    const { store, reads, load } = storeWith();
    await store.get('mk_1', load('mk_1'));
    store.clear();
    await store.get('mk_1', load('mk_1'));
    expect(reads).toEqual(['mk_1', 'mk_1']);
  });

  it('keeps an entry no longer than the TTL counted from when its read began', async () => {
    const { store, clock, reads, load } = storeWith({ ttl_ms: 60_000 });
    await store.get('mk_1', async () => {
      reads.push('mk_1');
      clock.ms += 20_000; // the read itself was slow
      return { value: 'principal' };
    });
    clock.ms += 39_000;
    await store.get('mk_1', load('mk_1'));
    expect(reads).toEqual(['mk_1']);
    clock.ms += 1_001;
    await store.get('mk_1', load('mk_1'));
    expect(reads).toEqual(['mk_1', 'mk_1']);
  });

  it('does not keep a credential about to end by itself (a key in its grace period) past its end', async () => {
    const { store, reads, load } = storeWith();
    await store.get('ending', load('ending', { value: 'principal', until_ms: Date.now() + 500 }));
    await store.get('ending', load('ending', { value: 'principal', until_ms: Date.now() + 500 }));
    await store.get('later', load('later', { value: 'principal', until_ms: Date.now() + 3_600_000 }));
    await store.get('later', load('later', { value: 'principal', until_ms: Date.now() + 3_600_000 }));
    expect(reads).toEqual(['ending', 'ending', 'later']);
  });

  it('answers a batch from memory and reads only the missing keys, in one load; a key the load does not verify is not kept', async () => {
    const { store } = storeWith();
    const loads: string[][] = [];
    const load = async (missing: string[]) => {
      loads.push(missing);
      return new Map(missing.filter((key) => key !== 'refused').map((key) => [key, { value: `principal of ${key}` }]));
    };
    await store.get('a', async () => ({ value: 'principal of a' }));
    const found = await store.getMany(['a', 'b', 'b', 'refused'], load);
    expect(found).toEqual(new Map([['a', 'principal of a'], ['b', 'principal of b']]));
    expect(await store.getMany(['a', 'b', 'refused'], load)).toEqual(new Map([['a', 'principal of a'], ['b', 'principal of b']]));
    expect(await store.getMany(['a', 'b'], load)).toEqual(new Map([['a', 'principal of a'], ['b', 'principal of b']]));
    expect(loads).toEqual([['b', 'refused'], ['refused']]);
  });

  it('keeps nothing of a batch read that a drop overtook, nor while the replica cannot prove it hears', async () => {
    let hearing = true;
    const { store } = storeWith({ hearing: () => hearing });
    const loads: string[][] = [];
    const load = async (missing: string[]) => {
      loads.push(missing);
      return new Map(missing.map((key) => [key, { value: 'principal' }]));
    };
    let release: () => void = () => undefined;
    const slow = store.getMany(['a', 'b'], async (missing) => {
      loads.push(missing);
      await new Promise<void>((resolve) => (release = resolve));
      return new Map(missing.map((key) => [key, { value: 'read before the change committed' }]));
    });
    store.drop(['a']);
    release();
    expect(await slow).toEqual(new Map([['a', 'read before the change committed'], ['b', 'read before the change committed']]));
    hearing = false;
    await store.getMany(['a', 'b'], load);
    hearing = true;
    await store.getMany(['a', 'b'], load);
    await store.getMany(['a', 'b'], load);
    expect(loads).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b']]);
  });

  it('keeps a batch entry no longer than a second before its own end', async () => {
    const { store } = storeWith();
    const loads: string[][] = [];
    const load = async (missing: string[]) => {
      loads.push(missing);
      return new Map(missing.map((key) => [key, { value: 'principal', until_ms: Date.now() + (key === 'ending' ? 500 : 3_600_000) }]));
    };
    await store.getMany(['ending', 'later'], load);
    await store.getMany(['ending', 'later'], load);
    expect(loads).toEqual([['ending', 'later'], ['ending']]);
  });

  it('is bounded: past max_entries the least recently used goes', async () => {
    const { store, reads, load } = storeWith({ max_entries: 2 });
    await store.get('a', load('a'));
    await store.get('b', load('b'));
    await store.get('a', load('a'));
    await store.get('c', load('c'));
    expect(store.size).toBe(2);
    await store.get('a', load('a'));
    await store.get('b', load('b'));
    expect(reads).toEqual(['a', 'b', 'c', 'b']);
  });
});

describe('when a changing replica may answer', () => {
  const members = new Set(['self', 'peer-1', 'peer-2']);

  it('once every replica it heard of acknowledged', () => {
    expect(invalidationSettled({ members, acknowledged: new Set(['self', 'peer-1']), now_ms: 0, lease_ends_ms: 1_750 })).toBe(false);
    expect(invalidationSettled({ members, acknowledged: new Set(['self', 'peer-1', 'peer-2']), now_ms: 0, lease_ends_ms: 1_750 })).toBe(true);
  });

  it('or, when one stays silent, once its lease has surely run out', () => {
    const acknowledged = new Set(['self', 'peer-1']);
    expect(invalidationSettled({ members, acknowledged, now_ms: 1_749, lease_ends_ms: 1_750 })).toBe(false);
    expect(invalidationSettled({ members, acknowledged, now_ms: 1_750, lease_ends_ms: 1_750 })).toBe(true);
  });

  it('counts a replica that joined while it waited', () => {
    const joined = new Set([...members, 'newcomer']);
    expect(invalidationSettled({ members: joined, acknowledged: new Set(members), now_ms: 0, lease_ends_ms: 1_750 })).toBe(false);
  });
});

describe('an invalidation on the bus', () => {
  it('is a list of keys; anything else is not one', () => {
    expect(parseInvalidation({ keys: ['mk_1', 'mk_2'] })).toEqual({ keys: ['mk_1', 'mk_2'] });
    expect(parseInvalidation({ keys: [] })).toEqual({ keys: [] });
    expect(parseInvalidation({ keys: 'mk_1' })).toBeUndefined();
    expect(parseInvalidation({ keys: [1] })).toBeUndefined();
    expect(parseInvalidation(null)).toBeUndefined();
    expect(parseInvalidation('mk_1')).toBeUndefined();
  });

  it('names its kind, unless it is of API keys and holder tokens (the format from before kinds)', () => {
    expect(parseInvalidation({ keys: ['k'], kind: 'webhook_signing' })).toEqual({ keys: ['k'], kind: 'webhook_signing' });
    expect(parseInvalidation({ keys: ['mk_1'] })).toEqual({ keys: ['mk_1'] });
    expect(parseInvalidation({ keys: ['k'], kind: 7 })).toBeUndefined();
    expect(parseInvalidation({ keys: ['k'], kind: null })).toBeUndefined();
  });
});
