import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ApiError } from '@paynet/contracts';
import { CONFIG, RpcClient, Sweeper, updateReturning, withTransaction } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../config.js';
import { findIntent, intent_columns, type PaymentIntentRow } from '../payment-intents/payment-intent.js';
import { refund_columns, type RefundRow } from '../refunds/refund.js';
import { RefundsService } from '../refunds/refunds.service.js';
import { attemptFate, isRefusal } from '../accounts-calls.js';
import { type AttemptCommand, attemptCommand } from '../payment-intents/attempts.js';
import { CaptureService } from '../payment-intents/capture.service.js';
import { PaymentOutcomes } from '../payment-intents/payment-outcomes.js';
import { reconciler_settlements_total } from './reconciler.metrics.js';
import { statusGuard } from '../payment-intents/transitions.js';

/** Intents claimed per pass; they are settled concurrently, each with at most two requests to accounts. */
export const reconcile_batch_max = 64;

type Outcome = 'applied' | 'payment_failed' | 'refused' | 'already_settled' | 'unknown';
type Step = 'lookup' | 'resend' | 'hold_action' | 'refund';
interface Settlement {
  outcome: Outcome;
  step: Step;
}

/**
 * Settles payments left `processing` because accounts did not answer pay in
 * time. An intent counts as stuck once its command was last sent more than
 * RECONCILE_AFTER_MS ago (longer than a request's timeout, so pay's own
 * request has given up). A pass claims a bounded batch with SKIP LOCKED and
 * moves their `attempt_sent_at` on, so replicas share the work and no other
 * takes the same intent until that much time has passed again.
 *
 * Why it never charges twice nor loses a payment: accounts applies a
 * transfer id at most once. So the reconciler first asks whether the
 * attempt's id was applied; if so, the intent succeeded. If not, that is not
 * a failure: the original command may still be queued in accounts and apply
 * later, and marking the intent failed would let the money move for an
 * intent that says it did not. Instead it re-sends the same command (same id,
 * rebuilt from the row): accounts applies it now, answers already_applied,
 * or refuses it (4xx), and only a refusal is recorded as a failure. No answer
 * at all: the next pass tries again. Recording is a compare-and-set on status
 * and attempt, shared with pay, so the outcome and its event are written
 * once even when pay's own request finishes at the same moment.
 * Accounts remembers refusals too (every later copy of a refused id is
 * refused the same), so a refusal found by the lookup is final as it is.
 */
@Injectable()
export class Reconciler extends Sweeper {
  private readonly logger = new Logger(Reconciler.name);
  private readonly after_ms: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly rpc: RpcClient,
    private readonly outcomes: PaymentOutcomes,
    private readonly captures: CaptureService,
    private readonly refunds: RefundsService,
    @Inject(CONFIG) config: PaymentsConfig,
  ) {
    super('payment reconciler', config.RECONCILE_INTERVAL_MS);
    this.after_ms = config.RECONCILE_AFTER_MS;
  }

  /**
   * One pass: claims up to a batch of stuck pay attempts and a batch of
   * stuck hold actions (a capture's post or a cancel's void whose answer was
   * lost), settles each; answers how many it claimed.
   */
  async sweepOnce(): Promise<number> {
    // An attempt is outstanding while the intent is processing: the one status its refusal may arrive in. (An applied answer may
    // also arrive over a refusal recorded for it, but that attempt was settled: claiming refused intents would re-ask about
    // them every pass until they expire, and a refused manual attempt has no hold left to rebuild.)
    const attempts = await this.claim(statusGuard('attempt_refused'));
    const hold_actions = await this.claim(`${statusGuard(['hold_posted', 'hold_voided'])} AND (capture_amount IS NOT NULL OR void_reason IS NOT NULL)`);
    const refunds = await this.pendingRefunds();
    await Promise.all([
      ...attempts.map((row) => this.settle(row)),
      ...hold_actions.map((row) => this.settleHoldAction(row)),
      ...refunds.map((refund) => this.settleRefund(refund)),
    ]);
    return attempts.length + hold_actions.length + refunds.length;
  }

  /** `stuck` is one of the two fixed conditions above, never input. */
  private claim(stuck: string): Promise<PaymentIntentRow[]> {
    return withTransaction(this.dataSource, (manager) =>
      updateReturning<PaymentIntentRow>(
        manager,
        `UPDATE payment_intents SET attempt_sent_at = now()
         WHERE id IN (SELECT id FROM payment_intents
                      WHERE ${stuck} AND attempt_sent_at <= now() - make_interval(secs => $1)
                      ORDER BY attempt_sent_at LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING ${intent_columns}`,
        [this.after_ms / 1000, reconcile_batch_max],
      ),
    );
  }

  /** Refunds still pending RECONCILE_AFTER_MS after they were made: their request has given up waiting. */
  private pendingRefunds(): Promise<RefundRow[]> {
    return this.dataSource.query(
      `SELECT ${refund_columns} FROM refunds WHERE status = 'pending' AND created_at <= now() - make_interval(secs => $1)
       ORDER BY created_at LIMIT $2`,
      [this.after_ms / 1000, reconcile_batch_max],
    );
  }

  /**
   * The post or void the row records is sent again (both idempotent by hold
   * id): applied now or before, the intent is recorded succeeded or canceled
   * once; a refused post (the hold expired first) is given up as capture does.
   */
  private settleHoldAction(row: PaymentIntentRow): Promise<void> {
    const context = { payment_intent: row.id, attempt: row.attempt, capture_amount: row.capture_amount, void_reason: row.void_reason };
    return this.resend('hold_action', context, () => this.captures.settleHold(row, undefined));
  }

  /**
   * A refund left pending (its transfer's answer was lost) is sent again,
   * same transfer id: applied now or before, it is recorded succeeded once;
   * refused, it is recorded failed and its reservation released.
   */
  private async settleRefund(refund: RefundRow): Promise<void> {
    const context = { refund: refund.id, payment_intent: refund.payment_intent_id };
    return this.resend('refund', context, async () => {
      const intent = (await findIntent(this.dataSource.manager, refund.payment_intent_id, false)) as PaymentIntentRow;
      return this.refunds.settle(refund, intent, undefined);
    });
  }

  /** Runs `send`, which re-sends a written-down command and records its outcome itself (a refusal included); no answer waits for the next pass. */
  private async resend(step: Step, context: object, send: () => Promise<unknown>): Promise<void> {
    let outcome: Outcome;
    try {
      await send();
      outcome = 'applied';
    } catch (error) {
      if (!isRefusal(error)) {
        reconciler_settlements_total.inc({ outcome: 'unknown', step });
        this.logger.warn({ ...context, step, err: error }, 'ledger command still unknown; the next pass tries again');
        return;
      }
      outcome = 'refused';
    }
    reconciler_settlements_total.inc({ outcome, step });
    this.logger.log({ ...context, step, outcome }, 'ledger command settled');
  }

  private async settle(row: PaymentIntentRow): Promise<void> {
    const command = attemptCommand(row);
    const context = { payment_intent: row.id, attempt: row.attempt, subject: command.subject };
    const progress: { step: Step } = { step: 'lookup' };
    let settlement: Settlement;
    try {
      settlement = await this.settleBy(row, command, progress);
    } catch (error) {
      // No answer (or a 5xx) to the lookup or the re-send: still unknown, the next pass asks again.
      reconciler_settlements_total.inc({ outcome: 'unknown', step: progress.step });
      this.logger.warn({ ...context, step: progress.step, err: error }, 'processing payment still unknown; the next pass tries again');
      return;
    }
    reconciler_settlements_total.inc({ ...settlement });
    this.logger.log({ ...context, ...settlement }, 'processing payment settled');
  }

  /**
   * Asks what became of the attempt's transfer or hold: applied, or refused
   * (for good: accounts answers every later copy the same), settles it at once;
   * never seen, it sends the very same command again.
   */
  private async settleBy(row: PaymentIntentRow, attempt: AttemptCommand, progress: { step: Step }): Promise<Settlement> {
    const earlier = await attemptFate(this.rpc, row);
    if (earlier.fate === 'applied') return this.applied(row, 'lookup');
    if (earlier.fate === 'refused') return this.refused(row, earlier.refusal, 'lookup');
    progress.step = 'resend';
    try {
      await this.rpc.request(attempt.subject, attempt.command);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      return this.refused(row, error, 'resend');
    }
    return this.applied(row, 'resend');
  }

  private async refused(row: PaymentIntentRow, refusal: ApiError, step: Step): Promise<Settlement> {
    const recorded = await withTransaction(this.dataSource, (manager) => this.outcomes.recordRefused(manager, row, refusal));
    return { outcome: recorded ? 'payment_failed' : 'already_settled', step };
  }

  private async applied(row: PaymentIntentRow, step: Step): Promise<Settlement> {
    const recorded = await withTransaction(this.dataSource, (manager) => this.outcomes.recordApplied(manager, row));
    return { outcome: recorded ? 'applied' : 'already_settled', step };
  }
}
