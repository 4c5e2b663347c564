import { parseArgs } from 'node:util';
import { default_duration_s, default_warmup_s, integerOption, quick_duration_s, quick_warmup_s, UsageError } from '../options.js';

export interface PaymentsBenchOptions {
  /** Length of each measured phase. */
  duration_s: number;
  /** Unmeasured load before each measured phase. */
  warmup_s: number;
  /** Clients at the saturation point: each makes a payment, awaits it, makes the next. */
  concurrency: number;
  merchants: number;
  holders: number;
  /** A last saturated phase this long (0: none), the services' memory sampled all along: is it flat? */
  soak_s: number;
  quick: boolean;
  help: boolean;
}

/** The load: 16 clients, each a create then a pay. */
export const default_concurrency = 16;
export const default_merchants = 20;
export const default_holders = 200;
export const quick_holders = 40;
/** In the hot phase this share of the payments goes to the first merchant. */
export const hot_share = 0.5;

const duration_s_max = 3_600;
const concurrency_max = 512;
const merchants_max = 1_000;
const holders_max = 10_000;
const soak_s_max = 7_200;

export const usage = [
  'usage: npm run bench -- [--duration <s>] [--concurrency <n>] [--merchants <n>] [--holders <n>] [--soak <s>] [--quick]',
  '',
  `  --duration <s>     length of each measured phase, 1..${duration_s_max} (default ${default_duration_s})`,
  `  --concurrency <n>  clients at the saturation point, 1..${concurrency_max} (default ${default_concurrency})`,
  `  --merchants <n>    merchants, 2..${merchants_max} (default ${default_merchants})`,
  `  --holders <n>      funded wallets that pay, 1..${holders_max} (default ${default_holders})`,
  `  --soak <s>         then a saturated run this long, 0..${soak_s_max}, each service's memory sampled every 5 s (default 0: none; 600 for the issue's 10 minutes)`,
  `  --quick            ${quick_duration_s} s phases, ${quick_warmup_s} s warm-ups, ${quick_holders} holders: a smoke run, not figures to publish`,
  '',
  'DATABASE_URL / NATS_URL (NATS_MONITOR_URL for its /varz): use that PostgreSQL / NATS instead of throwaway ones.',
  'BENCH_ACCOUNTS_URL, BENCH_MERCHANTS_URL, BENCH_PAYMENTS_URL, BENCH_PUSH_URL with ADMIN_TOKEN: a running platform instead of starting one.',
].join('\n');

/** The command line, checked: every number within its bounds. */
export function parsePaymentsOptions(argv: readonly string[]): PaymentsBenchOptions {
  let values: ReturnType<typeof parseCommandLine>['values'];
  try {
    values = parseCommandLine(argv).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const quick = values.quick ?? false;
  return {
    duration_s: integerOption('--duration', values.duration, quick ? quick_duration_s : default_duration_s, 1, duration_s_max),
    warmup_s: quick ? quick_warmup_s : default_warmup_s,
    concurrency: integerOption('--concurrency', values.concurrency, default_concurrency, 1, concurrency_max),
    merchants: integerOption('--merchants', values.merchants, default_merchants, 2, merchants_max),
    holders: integerOption('--holders', values.holders, quick ? quick_holders : default_holders, 1, holders_max),
    soak_s: integerOption('--soak', values.soak, 0, 0, soak_s_max),
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
      merchants: { type: 'string' },
      holders: { type: 'string' },
      soak: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
