import { batchesBetween, parseBatchTotals } from './batches.js';

const exposition = (batches: number, transfers: number, seconds: number) => `# HELP paynet_ledger_batch_size Transfers applied per database transaction
# TYPE paynet_ledger_batch_size histogram
paynet_ledger_batch_size_bucket{le="1"} 0
paynet_ledger_batch_size_sum ${transfers}
paynet_ledger_batch_size_count ${batches}
paynet_ledger_batch_duration_seconds_bucket{le="0.001"} 0
paynet_ledger_batch_duration_seconds_sum ${seconds}
paynet_ledger_batch_duration_seconds_count ${batches}
`;

describe('transfer batch figures from /metrics', () => {
  it('reads the batch count, transfers and time spent', () => {
    expect(parseBatchTotals(exposition(10, 320, 0.25))).toEqual({ batches: 10, transfers: 320, duration_s: 0.25 });
  });

  it('reads zero where the metrics are absent (no batch yet)', () => {
    expect(parseBatchTotals('# nothing here\n')).toEqual({ batches: 0, transfers: 0, duration_s: 0 });
  });

  it('gives the mean size and duration of the batches between two readings', () => {
    const phase = batchesBetween(parseBatchTotals(exposition(10, 320, 0.25)), parseBatchTotals(exposition(30, 1_120, 0.45)));
    expect(phase.batches).toBe(20);
    expect(phase.mean_size).toBe(40);
    expect(phase.mean_duration_ms).toBeCloseTo(10, 9);
  });

  it('has no means without batches', () => {
    const reading = parseBatchTotals(exposition(5, 50, 0.1));
    expect(batchesBetween(reading, reading)).toEqual({ batches: 0, mean_size: undefined, mean_duration_ms: undefined });
  });
});
