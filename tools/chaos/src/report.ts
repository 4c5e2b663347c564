import type { CallCounters } from './calls.js';
import { fault_kinds, type FaultKind } from './faults.js';
import type { History } from './history.js';

const number_format = new Intl.NumberFormat('en-US');
const count = (value: number) => number_format.format(value);

/** Orders with a pay answered 2xx, and refunds answered 2xx (from the history, as the clients were told). */
export function answeredCounts(history: History): { payments: number; refunds: number } {
  const ok = (outcome: { kind: string; status?: number }) => outcome.kind === 'answered' && (outcome.status ?? 0) >= 200 && (outcome.status ?? 0) <= 299;
  return {
    payments: history.orders.filter((order) => order.pays.some((attempt) => ok(attempt.outcome))).length,
    refunds: history.orders.reduce((total, order) => total + order.refunds.filter((refund) => ok(refund.outcome)).length, 0),
  };
}

/** "chaos: 35 s, 812 requests (43 retried), 57 errors, 3 of 5 faults, 120 payments, 9 refunds" */
export function progressLine(run: { elapsed_s: number; counters: CallCounters; faults: number; planned: number; history: History }): string {
  const { payments, refunds } = answeredCounts(run.history);
  const { requests, retried, errors } = run.counters;
  return (
    `chaos: ${run.elapsed_s.toFixed(0)} s, ${count(requests)} requests (${count(retried)} retried), ${count(errors)} errors, ` +
    `${run.faults} of ${run.planned} faults, ${count(payments)} payments, ${count(refunds)} refunds`
  );
}

/** "chaos: 42 s, 7 faults, 1,234 payments, 56 refunds, 0 anomalies" */
export function summaryLine(run: { duration_s: number; faults: number; history: History; anomalies: number }): string {
  const { payments, refunds } = answeredCounts(run.history);
  return `chaos: ${run.duration_s.toFixed(0)} s, ${count(run.faults)} faults, ${count(payments)} payments, ${count(refunds)} refunds, ${count(run.anomalies)} anomalies`;
}

const error_kinds_shown = 8;

/** "120 x 503 ledger_unavailable, 14 x fetch failed": what made the clients retry, most frequent first. */
export function errorKinds(counters: CallCounters): string {
  const kinds = Object.entries(counters.error_kinds).sort(([, a], [, b]) => b - a);
  if (kinds.length === 0) return 'none';
  return kinds
    .slice(0, error_kinds_shown)
    .map(([kind, times]) => `${count(times)} x ${kind}`)
    .join(', ');
}

/** "kill 8, pause 7, nats 8, postgres 7" */
export function faultTally(kinds: readonly FaultKind[]): string {
  return fault_kinds.map((kind) => `${kind} ${kinds.filter((each) => each === kind).length}`).join(', ');
}

export const results_begin = '<!-- chaos results begin: written by `npm run chaos -- --long`, replaced on each long run -->';
export const results_end = '<!-- chaos results end -->';

export interface ReportFacts {
  date: Date;
  commit: string;
  summary: string;
  seed: number;
  faults: string;
  orders: number;
  races: number;
  requests: number;
  retried: number;
  unknown: number;
  settle_s: number;
  webhooks: { received: number; events: number; redelivered: number };
  error_kinds: string;
  load_average: string;
  anomalies: readonly string[];
}

/** The long run's section of docs/BENCHMARKS.md. */
export function renderResults(facts: ReportFacts): string {
  const lines = [
    results_begin,
    '',
    '### Last long run',
    '',
    `${facts.date.toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${facts.commit}, seed ${facts.seed}, load average at start ${facts.load_average}.`,
    '',
    '```',
    facts.summary,
    '```',
    '',
    `- Faults: ${facts.faults} (kill: SIGKILL a service and respawn it; pause: SIGSTOP then SIGCONT; nats: SIGKILL nats-server and restart it; postgres: immediate shutdown and restart).`,
    `- ${count(facts.orders)} orders (${count(facts.races)} paid twice at once, by one holder or two), ${count(facts.requests)} requests, ${count(facts.retried)} of them retried with their Idempotency-Key, ${count(facts.unknown)} left without a final answer (their outcome judged from the final state).`,
    `- What made clients retry: ${facts.error_kinds}.`,
    `- Settled ${facts.settle_s.toFixed(0)} s after the clients stopped (nothing processing, every succeeded payment's webhook delivered).`,
    `- Webhooks: ${count(facts.webhooks.received)} requests for ${count(facts.webhooks.events)} events, ${count(facts.webhooks.redelivered)} events delivered more than once (at least once is the promise).`,
    facts.anomalies.length === 0 ? '- Anomalies: none.' : `- Anomalies (${facts.anomalies.length}):`,
    ...facts.anomalies.slice(0, 50).map((anomaly) => `  - ${anomaly}`),
    '',
    results_end,
  ];
  return lines.join('\n');
}

/** `existing` with its results section replaced by `results` (appended, under `intro`, when it has none). */
export function replaceResults(existing: string, intro: string, results: string): string {
  const begin = existing.indexOf(results_begin);
  const end = existing.indexOf(results_end);
  if (begin >= 0 && end > begin) return existing.slice(0, begin) + results + existing.slice(end + results_end.length);
  return `${existing.trimEnd()}\n\n${intro}\n\n${results}\n`;
}
