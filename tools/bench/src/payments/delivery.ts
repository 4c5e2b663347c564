import { LatencyRecorder, type LatencySummary } from '../stats.js';

/** How late the news of a payment reached a listener, after the holder had the pay's answer. */
export interface DeliverySummary extends LatencySummary {
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
 * lower bound of commit-to-heard, and exact to within the answer's trip back.
 */
export class DeliveryClock {
  private readonly answered_at = new Map<string, number>();
  private readonly heard_at = new Map<string, number>();
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

  hear(intent: string, at_ms: number): void {
    const answered = this.answered_at.get(intent);
    if (answered === undefined) return this.keep(this.heard_at, intent, at_ms);
    this.answered_at.delete(intent);
    this.recorder.record(at_ms - answered);
  }

  /** Answered payments not heard yet. */
  get waiting(): number {
    return this.answered_at.size;
  }

  /** The phase's figures; the clock starts again empty. */
  take(): DeliverySummary {
    const summary = { ...this.recorder.summary(), answered: this.answered, early: this.early, missing: this.answered_at.size };
    this.answered_at.clear();
    this.heard_at.clear();
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
