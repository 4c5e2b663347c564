import type { QueryRunner } from 'typeorm';

/**
 * What a committed transaction's request waits for before it answers: the
 * JetStream acks of the events it wrote (set by OutboxPublisher at commit,
 * awaited by withTransaction once the connection is back in the pool). Keyed
 * by the transaction's query runner, one per transaction.
 */
const published_by_transaction = new WeakMap<QueryRunner, Promise<void>>();

export function setPublishedAfterCommit(runner: QueryRunner, published: Promise<void>): void {
  published_by_transaction.set(runner, published);
}

/** The acks a transaction's events are waiting for; resolved at once when it wrote none. Never rejects. */
export function publishedAfterCommit(runner: QueryRunner | undefined): Promise<void> {
  if (!runner) return Promise.resolve();
  const published = published_by_transaction.get(runner);
  published_by_transaction.delete(runner);
  return published ?? Promise.resolve();
}
