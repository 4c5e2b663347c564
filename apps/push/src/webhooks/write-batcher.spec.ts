import { WriteBatcher } from './write-batcher.js';

/** A write that records each batch it was given and answers each item doubled. */
function recorder(): { batches: number[][]; write: (items: readonly number[]) => Promise<number[]> } {
  const batches: number[][] = [];
  return {
    batches,
    write: async (items) => {
      batches.push([...items]);
      return items.map((item) => item * 2);
    },
  };
}

const pause = (timeout_ms: number) => new Promise((resolve) => setTimeout(resolve, timeout_ms));

describe('WriteBatcher', () => {
  it('writes a lone item at once without a linger, and what came meanwhile in the next write', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { batch_max: 10 });
    const results = await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)]);
    expect(results).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('with a linger, writes the items added while it waits in one statement, each caller getting its own result', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { batch_max: 10, linger_ms: 50 });
    const first = batcher.add(1);
    await pause(5);
    const rest = [batcher.add(2), batcher.add(3)];
    expect(await Promise.all([first, ...rest])).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('with a linger, writes a full batch without waiting out the linger', async () => {
    const { batches, write } = recorder();
    // A linger far beyond the test's timeout: only a full batch can end it.
    const batcher = new WriteBatcher(write, { batch_max: 3, linger_ms: 60_000 });
    expect(await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)])).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('with a spacing, writes the first item at once and what comes within the spacing after it in one write', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { batch_max: 10, spacing_ms: 200 });
    expect(await batcher.add(1)).toBe(2);
    expect(batches).toEqual([[1]]);
    // Without the spacing, 2 would be written alone the moment it came, and 3 after it.
    const second = batcher.add(2);
    await pause(5);
    expect(await Promise.all([second, batcher.add(3)])).toEqual([4, 6]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('with a spacing, writes a full batch without waiting out the spacing', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { batch_max: 2, spacing_ms: 60_000 });
    await batcher.add(1);
    expect(await Promise.all([batcher.add(2), batcher.add(3)])).toEqual([4, 6]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it("gives every item of a failed write the write's error", async () => {
    const batcher = new WriteBatcher<number, number>(async () => Promise.reject(new Error('database down')), { batch_max: 10, linger_ms: 10 });
    const outcomes = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: new Error('database down') },
      { status: 'rejected', reason: new Error('database down') },
    ]);
  });

  it('hands queued items to another writer, whose results their callers get, and writes nothing of them itself', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { batch_max: 10, linger_ms: 60_000 });
    const added = [batcher.add(1), batcher.add(2)];
    const taken = batcher.take(10);
    expect(taken?.items).toEqual([1, 2]);
    expect(batcher.queued).toBe(0);
    expect(batcher.take(10)).toBeUndefined();
    taken?.settle([10, 20]);
    expect(await Promise.all(added)).toEqual([10, 20]);
    expect(batches).toEqual([]);
  });

  it('takes at most the number asked, oldest first, and refuses results that do not match the items', async () => {
    const { write } = recorder();
    const batcher = new WriteBatcher(write, { batch_max: 10, linger_ms: 20 });
    const added = [batcher.add(1), batcher.add(2), batcher.add(3)];
    const taken = batcher.take(2);
    expect(taken?.items).toEqual([1, 2]);
    expect(batcher.queued).toBe(1);
    expect(() => taken?.settle([10])).toThrow();
    taken?.settle([10, 20]);
    expect(() => taken?.settle([10, 20])).toThrow();
    expect(batcher.take(0)).toBeUndefined();
    expect(await Promise.all(added)).toEqual([10, 20, 6]);
  });

  it('writes items given back by the other writer itself, ahead of those queued after them', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, { batch_max: 10, linger_ms: 20 });
    const first = [batcher.add(1), batcher.add(2)];
    const taken = batcher.take(10);
    const later = batcher.add(3);
    taken?.giveBack();
    expect(await Promise.all([...first, later])).toEqual([2, 4, 6]);
    expect(batches.flat()).toEqual([1, 2, 3]);
  });

  it('refuses a batch bound below one', () => {
    expect(() => new WriteBatcher(recorder().write, { batch_max: 0 })).toThrow(RangeError);
    expect(() => new WriteBatcher(recorder().write, { batch_max: 1, spacing_ms: -1 })).toThrow(RangeError);
  });
});
