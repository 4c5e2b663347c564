import type { History } from './history.js';
import { errorKinds, faultTally, renderResults, replaceResults, results_begin, results_end, summaryLine } from './report.js';

const ok = (status: number) => ({ kind: 'answered' as const, status, body: {} });
const history: History = {
  holders: [],
  merchants: [],
  orders: [
    {
      merchant: 'mer_1',
      reference: 'a',
      amount: 1,
      create: { key: 'c', sends: 1, outcome: ok(201) },
      pays: [
        { key: 'p1', holder: 'acct_1', sends: 3, outcome: ok(200) },
        { key: 'p2', holder: 'acct_2', sends: 1, outcome: ok(409) },
      ],
      refunds: [{ key: 'r', amount: 1, sends: 1, outcome: ok(201) }],
    },
  ],
};

describe('the chaos report', () => {
  it('ends with one summary line', () => {
    expect(summaryLine({ duration_s: 42.4, faults: 7, history, anomalies: 0 })).toBe('chaos: 42 s, 7 faults, 1 payments, 1 refunds, 0 anomalies');
  });

  it('tallies faults by kind and the errors clients retried, most frequent first', () => {
    expect(faultTally(['kill', 'nats', 'kill', 'postgres'])).toBe('kill 2, pause 0, nats 1, postgres 1');
    expect(errorKinds({ requests: 9, errors: 4, retried: 2, error_kinds: { 'fetch failed': 1, '503 ledger_unavailable': 3 } })).toBe(
      '3 x 503 ledger_unavailable, 1 x fetch failed',
    );
  });

  it('replaces its own section of docs/BENCHMARKS.md and leaves the rest alone', () => {
    const facts = { date: new Date('2026-12-01T18:00:00Z'), commit: 'abc1234', summary: 'chaos: 1 s', seed: 1, faults: 'kill 1', orders: 1, races: 0, requests: 3, retried: 0, unknown: 0, settle_s: 2, webhooks: { received: 3, events: 2, redelivered: 1 }, error_kinds: 'none', load_average: '1.00', anomalies: [] };
    const first = replaceResults('# Benchmarks\n\nledger figures\n', '## Chaos', renderResults(facts));
    expect(first).toContain('ledger figures');
    expect(first).toContain('## Chaos');
    expect(first).toContain('2026-12-01 18:00 UTC, commit abc1234');
    const second = replaceResults(first, '## Chaos', renderResults({ ...facts, commit: 'def5678', anomalies: ['pi_a: debited 2 times'] }));
    expect(second).not.toContain('abc1234');
    expect(second).toContain('  - pi_a: debited 2 times');
    expect(second.split(results_begin)).toHaveLength(2);
    expect(second.split(results_end)).toHaveLength(2);
    expect(second.split('## Chaos')).toHaveLength(2);
  });
});
