import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Length of each measured phase (pgbench, ledger uniform, ledger hot). */
  duration_s: number;
  /** Unmeasured load before each measured phase. */
  warmup_s: number;
  /** Transfer commands in flight at any moment (a closed loop). */
  concurrency: number;
  /** Funded wallets that transfers debit. */
  wallets: number;
  /** Accounts that only receive (merchant-like); the first is the hot one. */
  credit_accounts: number;
  quick: boolean;
  help: boolean;
}

export const default_duration_s = 30;
export const quick_duration_s = 5;
export const default_warmup_s = 5;
export const quick_warmup_s = 2;
/**
 * Commands in flight by default: enough that the next transfer batch is read
 * and waiting for its rows while the previous one commits. With 64 a batch
 * holds every command in flight, and the ledger idles while answers and new
 * commands travel (docs/BENCHMARKS.md has the figures at 64 to 512).
 */
export const default_concurrency = 256;
export const default_wallets = 200;
export const default_credit_accounts = 20;

const duration_s_max = 3_600;
const concurrency_max = 1_024;
const wallets_max = 10_000;

export const usage = [
  'usage: npm run bench:ledger -- [--duration <s>] [--concurrency <n>] [--wallets <n>] [--quick]',
  '',
  `  --duration <s>     length of each measured phase, 1..${duration_s_max} (default ${default_duration_s})`,
  `  --concurrency <n>  transfer commands in flight, 1..${concurrency_max} (default ${default_concurrency})`,
  `  --wallets <n>      funded wallets, 2..${wallets_max} (default ${default_wallets})`,
  `  --quick            ${quick_duration_s} s phases and ${quick_warmup_s} s warm-ups: a smoke run, not figures to publish`,
  '',
  'DATABASE_URL / NATS_URL: use that PostgreSQL / NATS instead of starting throwaway ones.',
].join('\n');

export class UsageError extends Error {}

/** The command line, checked: every number within its bounds. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  const quick = values.quick ?? false;
  return {
    duration_s: integerOption('--duration', values.duration, quick ? quick_duration_s : default_duration_s, 1, duration_s_max),
    warmup_s: quick ? quick_warmup_s : default_warmup_s,
    concurrency: integerOption('--concurrency', values.concurrency, default_concurrency, 1, concurrency_max),
    wallets: integerOption('--wallets', values.wallets, default_wallets, 2, wallets_max),
    credit_accounts: default_credit_accounts,
    quick,
    help: values.help ?? false,
  };
}

function parseCommandLine(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      concurrency: { type: 'string' },
      wallets: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

export function integerOption(name: string, given: string | undefined, fallback: number, min: number, max: number): number {
  if (given === undefined) return fallback;
  const value = Number(given);
  if (!/^[0-9]+$/.test(given) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${given}"`);
  }
  return value;
}
