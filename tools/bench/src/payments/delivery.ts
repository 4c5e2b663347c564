import { LatencyRecorder, type LatencySummary } from '../stats.js';

/** How late the news of a payment reached a listener, after the holder had the pay's answer. */
export interface DeliverySummary extends LatencySummary {
  /**
   * From the commit of the pay's transaction (PostgreSQL's commit timestamp
   * of the intent row it left `succeeded`) to the moment the listener heard it: exact,
   * where the lower bound above leaves out the answer's trip back. Absent
   * when commit timestamps cannot be read (a given platform without
   * track_commit_timestamp).
   */
  from_commit: LatencySummary | undefined;
  /** Payments answered in the phase. */
  answered: number;
  /** Heard before the pay's answer arrived (recorded as 0 ms). */
  early: number;
  /** Answered but never heard by the end of the phase's drain. */
  missing: number;
}

/** Entries kept waiting for their other half; beyond it the oldest are dropped (and counted missing). */
export const pending_max = 1_000_000;

/**
 * Pairs each paid intent's answer time with the time a listener (the
 * merchant's WebSocket, its webhook endpoint) heard `payment_intent.succeeded`
 * for it. The pay's commit is before its answer, so answer-to-heard is a
 * lower bound of commit-to-heard; the exact figure comes from the commit
 * timestamps of the events heard, looked up after the phase.
 */
export class DeliveryClock {
  private readonly answered_at = new Map<string, number>();
  private readonly heard_at = new Map<string, number>();
  /** Intent id -> when its success was heard, Unix ms, for the commit-to-heard figure. */
  private readonly heard_wall = new Map<string, number>();
  private recorder = new LatencyRecorder();
  private answered = 0;
  private early = 0;

  answer(intent: string, at_ms: number): void {
    this.answered += 1;
    const heard = this.heard_at.get(intent);
    if (heard === undefined) return this.keep(this.answered_at, intent, at_ms);
    this.heard_at.delete(intent);
    this.early += 1;
    this.recorder.record(Math.max(0, heard - at_ms));
  }

  /**
   * `wall_ms`: the Unix time it was heard (Date.now(): the clock PostgreSQL's
   * commit timestamps use; performance.timeOrigin can be tens of ms off it),
   * for take()'s commit-to-heard figure.
   */
  hear(intent: string, at_ms: number, wall_ms?: number): void {
    if (wall_ms !== undefined && !this.heard_wall.has(intent)) this.keep(this.heard_wall, intent, wall_ms);
    const answered = this.answered_at.get(intent);
    if (answered === undefined) return this.keep(this.heard_at, intent, at_ms);
    this.answered_at.delete(intent);
    this.recorder.record(at_ms - answered);
  }

  /** Answered payments not heard yet. */
  get waiting(): number {
    return this.answered_at.size;
  }

  /** The intents whose success was heard since the last take(), to look their commit times up. */
  heardIntents(): string[] {
    return [...this.heard_wall.keys()];
  }

  /**
   * The phase's figures (`commits_ms`: intent id -> the commit of the
   * transaction that made it succeed, Unix ms); the clock starts again empty.
   * A commit after the moment heard is another transaction's (a later change
   * of the intent) and is left out.
   */
  take(commits_ms?: ReadonlyMap<string, number>): DeliverySummary {
    let from_commit: LatencySummary | undefined;
    if (commits_ms !== undefined) {
      const recorder = new LatencyRecorder();
      for (const [intent, heard_ms] of this.heard_wall) {
        const commit_ms = commits_ms.get(intent);
        if (commit_ms !== undefined && commit_ms <= heard_ms) recorder.record(heard_ms - commit_ms);
      }
      from_commit = recorder.summary();
    }
    const summary = { ...this.recorder.summary(), from_commit, answered: this.answered, early: this.early, missing: this.answered_at.size };
    this.answered_at.clear();
    this.heard_at.clear();
    this.heard_wall.clear();
    this.recorder = new LatencyRecorder();
    this.answered = 0;
    this.early = 0;
    return summary;
  }

  private keep(map: Map<string, number>, intent: string, at_ms: number): void {
    if (map.size >= pending_max) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(intent, at_ms);
  }
}
