import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { ApiError, type PostTransferCommand, type TransferReply } from '@paynet/contracts';
import { withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import { batch_transfers_max, LedgerService, retryRaces } from './ledger.service.js';
import { ledger_batch_duration_seconds, ledger_batch_size, ledger_transfers_total } from './ledger.metrics.js';

/** How long the first transfer of a batch waits for company. */
export const batch_window_ms = 2;
/**
 * Batches in flight at once. Two: while one holds its rows and commits, the
 * next is already read and waiting for them (or, over other accounts, runs
 * beside it), so neither PostgreSQL nor this process idles while the other
 * works (docs/BENCHMARKS.md).
 */
export const batch_flushes_in_flight_max = 2;
/** Transfers waiting at most; beyond this a caller is told to retry (503) rather than queue without bound. */
export const batch_queue_max = 16 * batch_transfers_max;

interface Waiting {
  command: PostTransferCommand;
  resolve: (reply: TransferReply) => void;
  reject: (error: unknown) => void;
}

/**
 * Batches transfer commands at the boundary, as TigerBeetle does: commands
 * arriving within `batch_window_ms`, or until a batch fills, are applied in
 * one database transaction, so a busy (hot) account is locked and written
 * once per batch, not once per transfer. Each command still succeeds or fails
 * on its own (one insufficient-funds transfer does not fail its neighbours).
 */
@Injectable()
export class TransferBatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(TransferBatcher.name);
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private in_flight = 0;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
  ) {}

  submit(command: PostTransferCommand): Promise<TransferReply> {
    if (this.queue.length >= batch_queue_max) {
      return Promise.reject(ApiError.unavailable('The ledger is at capacity; retry the transfer (same transfer_id).'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      if (this.queue.length >= batch_transfers_max) this.drain();
      // The window opens with the first command of an empty queue. Commands left
      // waiting after their window (both batches were in flight) have no timer:
      // the next batch to finish flushes them.
      else if (this.queue.length === 1) this.timer = setTimeout(() => this.drain(), batch_window_ms);
    });
  }

  /** Lets queued and in-flight batches finish before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.drain();
    if (this.in_flight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Flushes what waits, as far as the in-flight bound allows; called when the window ends, a batch fills, or a batch finishes. */
  private drain(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.in_flight < batch_flushes_in_flight_max && this.queue.length > 0) {
      const batch = this.queue.splice(0, batch_transfers_max);
      this.in_flight += 1;
      this.flush(batch).finally(() => {
        this.in_flight -= 1;
        // Waiting commands whose window has not run out yet keep filling; the timer flushes them.
        if (this.queue.length > 0 && this.timer === undefined) this.drain();
        else if (this.in_flight === 0 && this.queue.length === 0) this.idle.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  private async flush(batch: Waiting[]): Promise<void> {
    ledger_batch_size.observe(batch.length);
    const stop_timer = ledger_batch_duration_seconds.startTimer();
    try {
      const outcomes = await retryRaces(() =>
        withTransaction(this.dataSource, (manager) => this.ledger.applyBatch(manager, batch.map((waiting) => waiting.command))),
      );
      outcomes.forEach((outcome, index) => {
        const waiting = batch[index] as Waiting;
        ledger_transfers_total.inc({ outcome: outcome.ok ? outcome.reply.result : outcome.error.code });
        if (outcome.ok) waiting.resolve(outcome.reply);
        else waiting.reject(outcome.error);
      });
    } catch (error) {
      // The batch rolled back whole. Apply its commands one by one, so one that
      // the database refuses (a constraint: our second line of defence) fails alone.
      this.logger.warn({ err: error, batch_size: batch.length }, 'transfer batch failed; applying its transfers one by one');
      if (batch.length === 1) {
        (batch[0] as Waiting).reject(error);
        return;
      }
      await Promise.all(batch.map((waiting) => this.ledger.postTransfer(waiting.command).then(waiting.resolve, waiting.reject)));
    } finally {
      stop_timer();
    }
  }
}
