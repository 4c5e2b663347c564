export interface WriteBatcherOptions {
  /** Items written by one write at most. */
  batch_max: number;
  /** An item that finds no write running waits this long for company before it is written (a full batch goes at once). */
  linger_ms?: number;
  /**
   * A write starts at least this long after the previous one started (a
   * full batch goes at once): however fast items come, at most
   * 1000 / spacing_ms writes a second, and an item that comes after a quiet
   * spell is written at once.
   */
  spacing_ms?: number;
}

/** Queued items another writer carries in its own statement (WriteBatcher.take). */
export interface TakenItems<T, R> {
  readonly items: readonly T[];
  /** After the carrier's commit: one result per item, in order. */
  settle(results: readonly R[]): void;
  /** The carrier could not write them: they go back to the front of the queue and are written here. */
  giveBack(): void;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces writes: every item added while the previous write runs goes
 * into the next one (at most `batch_max` at a time), so concurrent callers
 * share one statement instead of one each. With `linger_ms`, an item that
 * finds no write running waits that long for company; with `spacing_ms`,
 * writes start at least that far apart; without either, a lone item is
 * written at once. Another writer may `take` what is queued and carry it in
 * its own statement. Each caller learns its own item's result, or the
 * batch's error.
 */
export class WriteBatcher<T, R> {
  private queue: Waiting<T, R>[] = [];
  private writing = false;
  private last_write_started_ms = Number.NEGATIVE_INFINITY;
  /** Ends a wait (linger or spacing) early: a batch filled up. */
  private endWait: (() => void) | undefined;
  private readonly batch_max: number;
  private readonly linger_ms: number;
  private readonly spacing_ms: number;

  /** `write` answers one result per item, in order. */
  constructor(
    private readonly write: (items: readonly T[]) => Promise<readonly R[]>,
    options: WriteBatcherOptions,
  ) {
    const { batch_max, linger_ms = 0, spacing_ms = 0 } = options;
    if (!Number.isInteger(batch_max) || batch_max < 1) throw new RangeError(`batch_max must be a positive integer, got ${batch_max}`);
    if (!(linger_ms >= 0) || !(spacing_ms >= 0)) throw new RangeError(`linger_ms and spacing_ms must be >= 0, got ${linger_ms} and ${spacing_ms}`);
    this.batch_max = batch_max;
    this.linger_ms = linger_ms;
    this.spacing_ms = spacing_ms;
  }

  /** Items waiting for a write (not counting those being written). */
  get queued(): number {
    return this.queue.length;
  }

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.batch_max) this.endWait?.();
      if (!this.writing) void this.drain();
    });
  }

  /** Hands up to `max` queued items to another writer (none being written here); undefined when none wait. */
  take(max: number): TakenItems<T, R> | undefined {
    if (this.queue.length === 0 || max < 1) return undefined;
    const taken = this.queue.splice(0, max);
    // Nothing left to wait for company for.
    if (this.queue.length === 0) this.endWait?.();
    let done = false;
    const once = () => {
      if (done) throw new Error('taken items settled or given back twice');
      done = true;
    };
    return {
      items: taken.map((waiting) => waiting.item),
      settle: (results) => {
        if (results.length !== taken.length) throw new Error(`${taken.length} taken items settled with ${results.length} results`);
        once();
        taken.forEach((waiting, index) => waiting.resolve(results[index] as R));
      },
      giveBack: () => {
        once();
        this.queue.unshift(...taken);
        if (!this.writing) void this.drain();
      },
    };
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      if (this.linger_ms > 0 && this.queue.length < this.batch_max) await this.wait(this.linger_ms);
      while (this.queue.length > 0) {
        const spacing_left_ms = this.last_write_started_ms + this.spacing_ms - Date.now();
        if (spacing_left_ms > 0 && this.queue.length < this.batch_max) await this.wait(spacing_left_ms);
        // Another writer may have taken everything meanwhile.
        if (this.queue.length === 0) break;
        this.last_write_started_ms = Date.now();
        await this.writeBatch(this.queue.splice(0, this.batch_max));
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(batch: readonly Waiting<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((waiting) => waiting.item));
      batch.forEach((waiting, index) => waiting.resolve(results[index] as R));
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }

  private wait(timeout_ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endWait = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeout_ms);
      this.endWait = done;
    });
  }
}
