import { NonceBatcher, nonceKey, nonce_queue_max, NonceQueueFullError, type NonceUse } from './nonce-batch.js';

/** A writer over an in-memory table, recording each batch it was given. */
function memoryWriter(seen = new Set<string>()) {
  const batches: NonceUse[][] = [];
  const write = async (uses: readonly NonceUse[]) => {
    batches.push([...uses]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const inserted = new Set<string>();
    for (const use of uses) {
      if (seen.has(nonceKey(use))) continue;
      seen.add(nonceKey(use));
      inserted.add(nonceKey(use));
    }
    return inserted;
  };
  return { write, batches };
}

describe('NonceBatcher', () => {
  it('writes the nonces that arrive while a write runs together, in one batch', async () => {
    const writer = memoryWriter();
    const batcher = new NonceBatcher(writer.write);
    const answers = await Promise.all(['a', 'b', 'c', 'd'].map((nonce) => batcher.use('mk_1', `${nonce}-nonce-0123456789`)));
    expect(answers).toEqual([true, true, true, true]);
    expect(writer.batches.map((batch) => batch.length)).toEqual([1, 3]);
  });

  it('answers a nonce seen before as a replay, per key', async () => {
    const writer = memoryWriter(new Set([nonceKey({ api_key: 'mk_1', nonce: 'used' })]));
    const batcher = new NonceBatcher(writer.write);
    expect(await batcher.use('mk_1', 'used')).toBe(false);
    expect(await batcher.use('mk_2', 'used')).toBe(true);
  });

  it('lets the same nonce sent twice at once through exactly once', async () => {
    const writer = memoryWriter();
    const batcher = new NonceBatcher(writer.write);
    void batcher.use('mk_1', 'first');
    const answers = await Promise.all([batcher.use('mk_1', 'twice'), batcher.use('mk_1', 'twice'), batcher.use('mk_1', 'twice')]);
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  it('fails every request of a batch whose write failed, and writes the next batch', async () => {
    let fail = true;
    const batcher = new NonceBatcher(async (uses) => {
      if (fail) {
        fail = false;
        throw new Error('connection lost');
      }
      return new Set(uses.map(nonceKey));
    });
    await expect(batcher.use('mk_1', 'n1')).rejects.toThrow('connection lost');
    expect(await batcher.use('mk_1', 'n2')).toBe(true);
  });

  it('refuses past nonce_queue_max waiting instead of queueing without bound', async () => {
    let release: () => void = () => undefined;
    const batcher = new NonceBatcher((uses) => new Promise((resolve) => (release = () => resolve(new Set(uses.map(nonceKey))))));
    const first = batcher.use('mk_1', 'n0');
    for (let index = 0; index < nonce_queue_max; index++) void batcher.use('mk_1', `w${index}`);
    await expect(batcher.use('mk_1', 'one too many')).rejects.toBeInstanceOf(NonceQueueFullError);
    release();
    expect(await first).toBe(true);
  });
});

describe('NonceBatcher with writes in flight', () => {
  it('starts a write for each nonce while fewer than its bound run, then batches what arrives meanwhile', async () => {
    const writer = memoryWriter();
    let running = 0;
    let most = 0;
    const batcher = new NonceBatcher(async (uses) => {
      running++;
      most = Math.max(most, running);
      try {
        return await writer.write(uses);
      } finally {
        running--;
      }
    }, 2);
    const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((nonce) => batcher.use('mk_1', `${nonce}-nonce-0123456789`)));
    expect(answers).toEqual([true, true, true, true, true]);
    expect(most).toBe(2);
    expect(writer.batches.map((batch) => batch.length)).toEqual([1, 1, 3]);
  });

  it('lets a nonce sent again while its first write runs through once, whatever batch each copy is in', async () => {
    const writer = memoryWriter();
    const batcher = new NonceBatcher(writer.write, 4);
    const answers = await Promise.all(Array.from({ length: 9 }, () => batcher.use('mk_1', 'again-nonce-0123456789')));
    expect(answers.filter(Boolean)).toHaveLength(1);
  });
});
