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

describe('WriteBatcher', () => {
  it('writes a lone item at once without a linger, and what came meanwhile in the next write', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, 10);
    const results = await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)]);
    expect(results).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('with a linger, writes the items added while it waits in one statement, each caller getting its own result', async () => {
    const { batches, write } = recorder();
    const batcher = new WriteBatcher(write, 10, 50);
    const first = batcher.add(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const rest = [batcher.add(2), batcher.add(3)];
    expect(await Promise.all([first, ...rest])).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('with a linger, writes a full batch without waiting out the linger', async () => {
    const { batches, write } = recorder();
    // A linger far beyond the test's timeout: only a full batch can end it.
    const batcher = new WriteBatcher(write, 3, 60_000);
    expect(await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)])).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("gives every item of a failed write the write's error", async () => {
    const batcher = new WriteBatcher<number, number>(async () => Promise.reject(new Error('database down')), 10, 10);
    const outcomes = await Promise.allSettled([batcher.add(1), batcher.add(2)]);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: new Error('database down') },
      { status: 'rejected', reason: new Error('database down') },
    ]);
  });
});
