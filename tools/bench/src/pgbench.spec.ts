import { parsePgbenchOutput, parsePgbenchProgress } from './pgbench.js';

// pgbench 15 against a PostgreSQL 18 server, as captured (progress lines on stderr, interleaved).
const pgbench_15_output = `pgbench (15.20 (Debian 15.20-0+deb12u1), server 18.4)
progress: 5.0 s, 1429.4 tps, lat 5.584 ms stddev 3.120, 0 failed
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 10
query mode: simple
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 30 s
number of transactions actually processed: 43290
number of failed transactions: 0 (0.000%)
latency average = 5.543 ms
latency stddev = 3.101 ms
initial connection time = 35.433 ms
tps = 1443.123456 (without initial connection time)
`;

// pgbench 13 and older: two tps lines; the one without connection time is the second.
const pgbench_13_output = `transaction type: <builtin: TPC-B (sort of)>
scaling factor: 10
number of clients: 8
number of transactions actually processed: 30000
latency average = 8.000 ms
tps = 990.5 (including connections establishing)
tps = 1000.25 (excluding connections establishing)
`;

describe('parsePgbenchOutput', () => {
  it('reads tps without connection time, the transaction count, failures and mean latency (pgbench 14+)', () => {
    expect(parsePgbenchOutput(pgbench_15_output)).toEqual({ tps: 1443.123456, transactions: 43290, failed: 0, latency_average_ms: 5.543 });
  });

  it('takes the tps excluding connections, not including them (pgbench 13 and older)', () => {
    expect(parsePgbenchOutput(pgbench_13_output)).toEqual({ tps: 1000.25, transactions: 30000, failed: undefined, latency_average_ms: 8 });
  });

  it('fails, quoting the output, when there is no tps line (pgbench stopped early)', () => {
    const output = 'pgbench: error: connection to server failed\nFATAL: database "x" does not exist\n';
    expect(() => parsePgbenchOutput(output)).toThrow(/no "tps = \.\.\." line.*database "x" does not exist/);
  });

  it('does not take a tps that includes connection time alone', () => {
    expect(() => parsePgbenchOutput('tps = 990.5 (including connections establishing)\n')).toThrow(/no "tps = \.\.\." line/);
  });
});

describe('parsePgbenchProgress', () => {
  it('reads the elapsed time and tps of a -P line', () => {
    expect(parsePgbenchProgress('progress: 5.0 s, 1429.4 tps, lat 5.584 ms stddev 3.120, 0 failed')).toEqual({ elapsed_s: 5, tps: 1429.4 });
    expect(parsePgbenchProgress('progress: 10.0 s, 0.0 tps, lat 0.000 ms stddev 0.000, 0 failed')).toEqual({ elapsed_s: 10, tps: 0 });
  });

  it('ignores every other line', () => {
    expect(parsePgbenchProgress('tps = 1443.1 (without initial connection time)')).toBeUndefined();
    expect(parsePgbenchProgress('')).toBeUndefined();
  });
});
