/**
 * Coalesces writes: every item added while the previous write runs goes
 * into the next one (at most `batch_max` at a time), so concurrent callers
 * share one statement instead of one each, and a lone item is written at
 * once. Each caller learns its own item's result, or the batch's error.
 */
export class WriteBatcher<T, R> {
  private queue: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private writing = false;

  /** `write` answers one result per item, in order. */
  constructor(
    private readonly write: (items: readonly T[]) => Promise<readonly R[]>,
    private readonly batch_max: number,
  ) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.batch_max);
        try {
          const results = await this.write(batch.map((waiting) => waiting.item));
          batch.forEach((waiting, index) => waiting.resolve(results[index] as R));
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
