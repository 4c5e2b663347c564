import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface ChaosOptions {
  /** Faults the nemesis injects; the workload runs until the last one has healed. */
  faults: number;
  /** Quiet time between one fault's healing and the next fault. */
  interval_s: number;
  /** Client workers, each running one order (create, pay, maybe refund) at a time. */
  clients: number;
  /** Seeds every random choice of the workload and the nemesis (timing stays the machine's). */
  seed: number;
  /** A long run's result goes to docs/BENCHMARKS.md. */
  write_report: boolean;
  help: boolean;
}

/** The short run `npm test` makes: at least 5 faults, within about two minutes on the 2-core VM. */
export const short_run_faults = 5;
/** `--long`: the run whose summary docs/BENCHMARKS.md keeps. */
export const long_run_faults = 30;
export const default_interval_s = 2;
export const default_clients = 6;

const faults_max = 1_000;
const interval_s_max = 600;
const clients_max = 64;
const seed_max = 2 ** 31 - 1;

export const usage = [
  'usage: npm run chaos -- [--long | --faults <n>] [--interval <s>] [--clients <n>] [--seed <n>]',
  '',
  `  --faults <n>    faults to inject, 1..${faults_max} (default ${short_run_faults}); ${long_run_faults} or more is a long run`,
  `  --long          the same as --faults ${long_run_faults}`,
  `  --interval <s>  quiet seconds between a fault's healing and the next, 0..${interval_s_max} (default ${default_interval_s})`,
  `  --clients <n>   concurrent clients, 1..${clients_max} (default ${default_clients})`,
  '  --seed <n>      seeds the random choices (printed at the start of every run), to replay a run\'s plan',
  '',
  `A long run (${long_run_faults} faults or more) writes its result to docs/BENCHMARKS.md.`,
  'The run always starts its own PostgreSQL and nats-server (it crashes them): DATABASE_URL and NATS_URL are ignored.',
].join('\n');

export class UsageError extends Error {}

/** Whole decimal numbers only ("1.5", "1e3" and "" are not counts), within bounds. */
const count = (min: number, max: number) => z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().min(min).max(max));

const command_line = z
  .object({
    faults: count(1, faults_max).optional(),
    long: z.boolean().optional(),
    interval: count(0, interval_s_max).default(default_interval_s),
    clients: count(1, clients_max).default(default_clients),
    seed: count(0, seed_max).optional(),
    help: z.boolean().default(false),
  })
  .refine((values) => !(values.long && values.faults !== undefined), 'give --long or --faults, not both');

/** The command line, checked: every number within its bounds. */
export function parseOptions(argv: readonly string[], random_seed: () => number = () => Math.floor(Math.random() * seed_max)): ChaosOptions {
  let raw: ReturnType<typeof parseArgs>['values'];
  try {
    raw = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: flags }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const parsed = command_line.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(issue?.path.length ? `--${issue.path.join('.')} ${issue.message}` : (issue?.message ?? 'bad options'));
  }
  const values = parsed.data;
  const faults = values.long ? long_run_faults : (values.faults ?? short_run_faults);
  return {
    faults,
    interval_s: values.interval,
    clients: values.clients,
    seed: values.seed ?? random_seed(),
    write_report: faults >= long_run_faults,
    help: values.help,
  };
}

const flags = {
  faults: { type: 'string' },
  long: { type: 'boolean' },
  interval: { type: 'string' },
  clients: { type: 'string' },
  seed: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
