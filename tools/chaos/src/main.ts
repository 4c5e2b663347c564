/**
 * `npm run chaos`: Jepsen's bank workload on the whole platform, through the
 * public API only, while a nemesis crashes, pauses and restarts its
 * processes; then every invariant checked. Exit 0 with no anomaly, 1 with
 * the list, 2 on a bad command line. See tools/chaos/src/run.ts.
 */
import { errorMessage, findWorkspaceRoot, runCommand } from '@paynet/devstack';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions, usage, UsageError } from './options.js';
import { errorKinds, faultTally, renderResults, replaceResults, summaryLine } from './report.js';
import { runChaos, type ChaosResult } from './run.js';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const root = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
const benchmarks_intro = [
  '## Chaos: `npm run chaos`',
  '',
  'The bank workload of Jepsen through the public API (holders with a known total pay four merchants, one hot; merchants refund; every',
  'request idempotent and retried with its key) while a nemesis SIGKILLs and respawns services, pauses them, kills nats-server and',
  'crashes PostgreSQL; afterwards the ledger, balances, statements, intents and webhooks are checked (README, `npm run chaos`).',
].join('\n');

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    say(usage);
    return 0;
  }
  const load_average = loadavg().map((value) => value.toFixed(2)).join(', ');
  // The code that runs is the code built at the start, whatever is committed meanwhile.
  const commit = await runCommand('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, timeout_ms: 10_000 });
  const result = await runChaos(options, say, { build: false });
  const summary = summaryLine({ duration_s: result.duration_s, faults: result.faults.length, history: result.history, anomalies: result.anomalies.length });
  say(`chaos: what made clients retry: ${errorKinds(result.counters)}`);
  const { received, events, redelivered } = result.webhooks;
  say(`chaos: webhooks: ${received} requests received for ${events} events, ${redelivered} events delivered more than once`);
  if (result.anomalies.length > 0) {
    say(`chaos: anomalies (seed ${result.seed}; service logs in ${result.log_dir}):`);
    for (const anomaly of result.anomalies) say(`  - ${anomaly}`);
  }
  if (options.write_report) writeReport(result, { summary, load_average, commit: commit.code === 0 ? commit.output.trim() : 'unknown' });
  say(summary);
  return result.anomalies.length === 0 ? 0 : 1;
}

function writeReport(result: ChaosResult, facts: { summary: string; load_average: string; commit: string }): void {
  const orders = result.history.orders;
  const sent = orders.flatMap((order) => [order.create, ...order.pays, ...order.refunds]);
  const results = renderResults({
    ...facts,
    date: new Date(),
    seed: result.seed,
    faults: faultTally(result.faults.map((record) => record.fault.kind)),
    orders: orders.length,
    races: orders.filter((order) => order.pays.length > 1).length,
    requests: result.counters.requests,
    retried: sent.filter((request) => request.sends > 1).length,
    unknown: sent.filter((request) => request.outcome.kind === 'unknown').length,
    settle_s: result.settle_s,
    webhooks: result.webhooks,
    error_kinds: errorKinds(result.counters),
    anomalies: result.anomalies,
  });
  const file = join(root, 'docs', 'BENCHMARKS.md');
  writeFileSync(file, replaceResults(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n', benchmarks_intro, results));
  say(`chaos: wrote docs/BENCHMARKS.md`);
}

main()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    if (error instanceof UsageError) {
      say(`error: ${error.message}\n\n${usage}`);
      process.exit(2);
    }
    say(`chaos: error: ${errorMessage(error)}`);
    process.exit(1);
  });
