/** Nonces written by one statement at most; more wait for the next. */
export const nonce_batch_max = 512;
/** Nonces waiting at most; past it a signed request is answered 503 (retry with a new nonce). */
export const nonce_queue_max = 10_000;

export interface NonceUse {
  api_key: string;
  nonce: string;
}

/** Writes a batch; answers the uses it inserted (the others were seen before), as `api_key\n nonce`. */
export type NonceWriter = (uses: readonly NonceUse[]) => Promise<ReadonlySet<string>>;

interface Waiting extends NonceUse {
  resolve: (fresh: boolean) => void;
  reject: (error: unknown) => void;
}

export function nonceKey(use: NonceUse): string {
  return `${use.api_key}\n${use.nonce}`;
}

/**
 * The nonces of concurrent signed requests, written together: one INSERT
 * for every nonce that arrived while the previous ones ran (the ledger's
 * transfers batch the same way), instead of one autocommit transaction per
 * request. Each request still learns, before it is answered, whether its
 * nonce was new: the table's primary key decides, across every replica.
 * The same nonce twice in one batch is fresh once.
 */
export class NonceBatcher {
  private queue: Waiting[] = [];
  private writing = 0;

  constructor(
    private readonly write: NonceWriter,
    /**
     * Writes running at once. One makes the largest batches; more keep a nonce from waiting for a write
     * already running and then for its own (two writes' time) when nonces arrive faster than one write
     * takes. Concurrent writes are safe: the primary key decides, and each batch inserts in key order.
     */
    private readonly writes_in_flight = 1,
  ) {}

  /** Whether the nonce is new (false: a replay). */
  use(api_key: string, nonce: string): Promise<boolean> {
    if (this.queue.length >= nonce_queue_max) return Promise.reject(new NonceQueueFullError());
    return new Promise((resolve, reject) => {
      this.queue.push({ api_key, nonce, resolve, reject });
      this.pump();
    });
  }

  /** Starts writes while fewer than `writes_in_flight` run, each with what has arrived (at most nonce_batch_max). */
  private pump(): void {
    while (this.writing < this.writes_in_flight && this.queue.length > 0) {
      const batch = this.queue.splice(0, nonce_batch_max);
      this.writing++;
      void this.flush(batch).finally(() => {
        this.writing--;
        this.pump();
      });
    }
  }

  private async flush(batch: Waiting[]): Promise<void> {
    const first = new Map<string, Waiting>();
    const repeats: Waiting[] = [];
    for (const waiting of batch) {
      const key = nonceKey(waiting);
      if (first.has(key)) repeats.push(waiting);
      else first.set(key, waiting);
    }
    for (const repeat of repeats) repeat.resolve(false);
    let inserted: ReadonlySet<string>;
    try {
      inserted = await this.write([...first.values()].map(({ api_key, nonce }) => ({ api_key, nonce })));
    } catch (error) {
      for (const waiting of first.values()) waiting.reject(error);
      return;
    }
    for (const [key, waiting] of first) waiting.resolve(inserted.has(key));
  }
}

export class NonceQueueFullError extends Error {
  constructor() {
    super('too many signed requests waiting for their nonce to be written');
  }
}
