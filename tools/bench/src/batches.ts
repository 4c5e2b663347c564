/**
 * What the accounts service's transfer batcher did during a phase, read from
 * its Prometheus /metrics (paynet_ledger_batch_size and
 * paynet_ledger_batch_duration_seconds): how many batches, how big, how long
 * each held its transaction. It says why a phase ran at the rate it did.
 */

const metrics_timeout_ms = 10_000;

export interface BatchTotals {
  batches: number;
  transfers: number;
  duration_s: number;
}

export interface PhaseBatches {
  batches: number;
  mean_size: number | undefined;
  mean_duration_ms: number | undefined;
}

/** The batch totals in a Prometheus text exposition; absent metrics read as zero. */
export function parseBatchTotals(text: string): BatchTotals {
  const value = (name: string): number => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
    const parsed = line === undefined ? 0 : Number(line.slice(name.length + 1));
    return Number.isFinite(parsed) ? parsed : 0;
  };
  return {
    batches: value('paynet_ledger_batch_size_count'),
    transfers: value('paynet_ledger_batch_size_sum'),
    duration_s: value('paynet_ledger_batch_duration_seconds_sum'),
  };
}

/** The batches between two readings. */
export function batchesBetween(before: BatchTotals, after: BatchTotals): PhaseBatches {
  const batches = after.batches - before.batches;
  if (batches <= 0) return { batches: 0, mean_size: undefined, mean_duration_ms: undefined };
  return {
    batches,
    mean_size: (after.transfers - before.transfers) / batches,
    mean_duration_ms: ((after.duration_s - before.duration_s) * 1000) / batches,
  };
}

export async function readBatchTotals(service_url: string): Promise<BatchTotals> {
  const response = await fetch(`${service_url}/metrics`, { signal: AbortSignal.timeout(metrics_timeout_ms) });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return parseBatchTotals(await response.text());
}
