/**
 * Coalesces writes: every item added while the previous write runs goes
 * into the next one (at most `batch_max` at a time), so concurrent callers
 * share one statement instead of one each. With `linger_ms`, an item that
 * finds no write running waits that long for company before it is written
 * (a full batch goes at once); without, a lone item is written at once.
 * Each caller learns its own item's result, or the batch's error.
 */
export class WriteBatcher<T, R> {
  private queue: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private writing = false;
  /** Ends the wait for company early (a batch filled up). */
  private endLinger: (() => void) | undefined;

  /** `write` answers one result per item, in order. */
  constructor(
    private readonly write: (items: readonly T[]) => Promise<readonly R[]>,
    private readonly batch_max: number,
    private readonly linger_ms = 0,
  ) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.batch_max) this.endLinger?.();
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      if (this.linger_ms > 0 && this.queue.length < this.batch_max) await this.linger();
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

  private linger(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endLinger = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.linger_ms);
      this.endLinger = done;
    });
  }
}
