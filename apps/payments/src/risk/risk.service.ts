import { Inject, Injectable, Logger } from '@nestjs/common';
import { amountToJson } from '@paynet/contracts';
import { CONFIG } from '@paynet/platform';
import type { EntityManager } from 'typeorm';
import type { PaymentsConfig } from '../config.js';
import { risk_decisions_total } from './risk.metrics.js';
import { RiskDeclinedError } from './risk-declined.error.js';
import {
  decideRisk,
  type RiskLimits,
  type RiskVerdict,
  velocity_window_seconds,
  velocityEnabled,
  type VelocityWindow,
  type VerifierFailMode,
  type VerifierOutcome,
} from './risk-rules.js';
import { RiskVerifier } from './risk-verifier.js';

/** The intent being paid, as stored (a PaymentIntentRow fits). */
export interface RiskSubject {
  id: string;
  amount: string;
  currency: string;
  merchant_id: string;
}

/**
 * Velocity locks are two-key advisory locks in a namespace of their own, so
 * an account's hash can never collide with the one-key locks of migrations.
 */
const velocity_lock_namespace = 0x7269736b; // 'risk'

const empty_window: VelocityWindow = { count: 0, amount_minor: 0n };

/**
 * Decides whether a pay attempt may go ahead, inside the transaction that
 * marks the intent processing. Velocity is counted in PostgreSQL under a
 * per-account transaction-scoped advisory lock, so concurrent pays on any
 * replica are checked one after another against the attempts already
 * admitted; the external verifier is asked at the same time.
 *
 * What counts: attempts the risk rules admitted, whether or not the ledger
 * then accepted the transfer. The outcome is not known while the lock is
 * held (the transfer is posted after commit), and refused attempts are
 * exactly what velocity limits are for (probing a stolen token, card
 * testing). Declined attempts do not count: they admitted nothing, and
 * counting them would lock out a holder for as long as they keep retrying.
 */
@Injectable()
export class RiskService {
  private readonly logger = new Logger(RiskService.name);
  private readonly limits: RiskLimits;
  private readonly fail_mode: VerifierFailMode;

  constructor(
    private readonly verifier: RiskVerifier,
    @Inject(CONFIG) config: PaymentsConfig,
  ) {
    this.limits = {
      amount_minor_max: config.RISK_MAX_AMOUNT_MINOR ?? null,
      velocity_count_max: config.RISK_VELOCITY_COUNT_PER_MINUTE ?? null,
      velocity_amount_minor_max: config.RISK_VELOCITY_AMOUNT_MINOR_PER_MINUTE ?? null,
    };
    this.fail_mode = config.RISK_VERIFY_FAIL_MODE;
  }

  /**
   * When admitting needs no I/O (no velocity limit, no verifier), the only
   * rule left is the amount limit, which the caller may check in the
   * statement that starts the attempt (null: no limit); undefined when
   * admit() must run in the attempt's transaction.
   */
  amountLimitAlone(): { amount_minor_max: bigint | null } | undefined {
    if (velocityEnabled(this.limits) || this.verifier.configured) return undefined;
    return { amount_minor_max: this.limits.amount_minor_max };
  }

  /** Records an admission made by the caller's statement under amountLimitAlone(): the same decision admit() takes, without its I/O. */
  admittedAlone(subject: RiskSubject, account: string): void {
    const outcome: VerifierOutcome = { kind: 'not_configured' };
    const verdict = decideRisk(this.limits, BigInt(subject.amount), empty_window, outcome, this.fail_mode);
    // The statement's guard is this very rule: a decline here is a bug, not a decision.
    if (verdict.outcome === 'declined') throw new Error(`risk: ${subject.id} admitted by SQL but declined by rule ${verdict.rule}`);
    this.record(verdict, outcome, subject.id, account);
  }

  /** Admits the attempt (recording it for velocity) or throws RiskDeclinedError; `manager` is the caller's transaction. */
  async admit(manager: EntityManager, subject: RiskSubject, account: string): Promise<void> {
    const amount_minor = BigInt(subject.amount);
    // Started first, so the verifier's round trip overlaps the wait for the account's lock.
    const outcome = this.verifier.verify({
      payment_intent: subject.id,
      amount: amountToJson(amount_minor),
      currency: subject.currency.trim(),
      account,
      merchant: subject.merchant_id,
    });
    const [window, verifier_outcome] = await Promise.all([this.lockedWindow(manager, account), outcome]);
    const verdict = decideRisk(this.limits, amount_minor, window, verifier_outcome, this.fail_mode);
    this.record(verdict, verifier_outcome, subject.id, account);
    if (verdict.outcome === 'declined') throw new RiskDeclinedError(verdict.rule, verdict.message);
    if (velocityEnabled(this.limits)) {
      await manager.query(
        'INSERT INTO risk_admissions (account, payment_intent, amount, admitted_at) VALUES ($1, $2, $3, clock_timestamp())',
        [account, subject.id, amount_minor.toString()],
      );
    }
  }

  /**
   * Takes the account's lock (held until the caller's transaction ends) and
   * reads what it admitted in the window. Every earlier holder of the lock
   * has ended (committed or rolled back), and each statement sees the latest
   * commits (READ COMMITTED), so nothing admitted concurrently is missed.
   */
  private async lockedWindow(manager: EntityManager, account: string): Promise<VelocityWindow> {
    if (!velocityEnabled(this.limits)) return empty_window;
    await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [velocity_lock_namespace, account]);
    const rows: { count: number; amount_minor: string }[] = await manager.query(
      `SELECT count(*)::int AS count, coalesce(sum(amount), 0)::text AS amount_minor FROM risk_admissions
       WHERE account = $1 AND admitted_at > clock_timestamp() - make_interval(secs => $2)`,
      [account, velocity_window_seconds],
    );
    const row = rows[0] as { count: number; amount_minor: string };
    return { count: row.count, amount_minor: BigInt(row.amount_minor) };
  }

  /** One metric increment and, for a decline or a fail-open, one warning (ids and the rule; never a token). */
  private record(verdict: RiskVerdict, outcome: VerifierOutcome, payment_intent: string, account: string): void {
    if (verdict.outcome === 'declined') {
      risk_decisions_total.inc({ rule: verdict.rule, outcome: 'declined' });
      const verifier = verdict.rule === 'external' || verdict.rule === 'external_unavailable' ? { verifier: verifierDetail(outcome) } : {};
      this.logger.warn({ payment_intent, account, rule: verdict.rule, ...verifier }, 'payment declined by risk rules');
      return;
    }
    if (verdict.failed_open && outcome.kind === 'unavailable') {
      risk_decisions_total.inc({ rule: 'external_unavailable', outcome: 'allowed' });
      this.logger.warn({ payment_intent, account, cause: outcome.cause, detail: outcome.detail }, 'risk verifier unavailable; payment allowed (RISK_VERIFY_FAIL_MODE=open)');
      return;
    }
    risk_decisions_total.inc({ rule: 'none', outcome: 'allowed' });
  }
}

/** What the verifier said or why it said nothing, for the log (operators only; never shown to the holder). */
function verifierDetail(outcome: VerifierOutcome): string | null {
  switch (outcome.kind) {
    case 'decline':
      return outcome.reason;
    case 'unavailable':
      return outcome.detail;
    case 'allow':
    case 'not_configured':
      return null;
  }
}
