import { errorMessage, findWorkspaceRoot, isProcessAlive, sleep } from '@paynet/devstack';
import { WebhookReceiver } from '@paynet/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallCounters } from './calls.js';
import { checkRun } from './checks.js';
import { describeFault, type Fault, planFaults } from './faults.js';
import type { History } from './history.js';
import { readFinalState, waitSettled } from './observe.js';
import type { ChaosOptions } from './options.js';
import { ChaosPlatform, type Say } from './platform.js';
import { seededRandom } from './random.js';
import { progressLine } from './report.js';
import { runClients, setUpWorld } from './workload.js';

export interface FaultRecord {
  fault: Fault;
  /** Seconds into the run when it was injected. */
  at_s: number;
  /** From injection until every service answered ready again. */
  heal_ms: number;
}

export interface ChaosResult {
  seed: number;
  duration_s: number;
  faults: FaultRecord[];
  counters: CallCounters;
  history: History;
  /** Seconds from the clients' stop until nothing was processing and every webhook had arrived. */
  settle_s: number;
  anomalies: string[];
  /** Webhook requests received, the distinct events they carried, and the events received more than once (at-least-once delivery). */
  webhooks: { received: number; events: number; redelivered: number };
  /** Where the services' logs are kept. */
  log_dir: string;
}

const progress_interval_ms = 5_000;
/** Time for the reconciler to settle lost answers and for push to deliver the last webhooks. */
const settle_timeout_ms = 180_000;
const run_folders_pruned_max = 100;

/**
 * One chaos run: the platform started, holders and merchants made, the
 * clients running while the nemesis injects `options.faults` faults (each
 * healed before the next), then everything settled and checked. Always
 * stops what it started.
 */
export async function runChaos(options: ChaosOptions, say: Say, settings: { build: boolean }): Promise<ChaosResult> {
  const run_id = randomBytes(4).toString('hex');
  const root = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
  const runs = join(root, 'tmp', 'chaos');
  pruneDeadRuns(runs);
  const folder = join(runs, `${process.pid}-${run_id}`);
  say(`chaos: run ${run_id}, seed ${options.seed}, ${options.faults} faults, ${options.clients} clients`);
  const platform = await ChaosPlatform.start(folder, { build: settings.build, say });
  const receiver = await WebhookReceiver.start();
  let result: ChaosResult | undefined;
  try {
    result = await runOnPlatform(platform, receiver, options, say, run_id);
    return result;
  } finally {
    await receiver.close();
    await platform.stop();
    // The servers' data goes; their logs stay when something went wrong.
    for (const part of result?.anomalies.length === 0 ? [''] : ['postgres', 'nats']) rmSync(join(folder, part), { recursive: true, force: true });
  }
}

/** Folders of runs whose process is gone (killed before it could clean up); the reaper has ended their servers. */
function pruneDeadRuns(runs: string): void {
  if (!existsSync(runs)) return;
  for (const entry of readdirSync(runs).slice(0, run_folders_pruned_max)) {
    const pid = Number(entry.split('-')[0]);
    if (Number.isSafeInteger(pid) && pid > 1 && !isProcessAlive(pid)) rmSync(join(runs, entry), { recursive: true, force: true });
  }
}

async function runOnPlatform(platform: ChaosPlatform, receiver: WebhookReceiver, options: ChaosOptions, say: Say, run_id: string): Promise<ChaosResult> {
  const random = seededRandom(options.seed);
  const world = await setUpWorld(platform.stack, receiver.url, run_id);
  const counters: CallCounters = { requests: 0, errors: 0, retried: 0, error_kinds: {} };
  const started_ms = Date.now();
  const elapsed_s = () => (Date.now() - started_ms) / 1000;
  const faults: FaultRecord[] = [];
  let stopping = false;
  const clients = runClients(world, { clients: options.clients, random, counters, stopping: () => stopping });
  const progress = setInterval(() => say(progressLine({ elapsed_s: elapsed_s(), counters, faults: faults.length, planned: options.faults, history: world.history })), progress_interval_ms);
  const anomalies: string[] = [];
  try {
    anomalies.push(...(await runNemesis(platform, planFaults(options.faults, random), { interval_ms: options.interval_s * 1000, say, elapsed_s, faults })));
  } finally {
    stopping = true;
    await clients;
    clearInterval(progress);
  }
  say(progressLine({ elapsed_s: elapsed_s(), counters, faults: faults.length, planned: options.faults, history: world.history }));
  const settle_started_ms = Date.now();
  say('chaos: clients stopped; waiting until nothing is processing and every webhook has arrived ...');
  anomalies.push(...(await platform.waitHealthy()).map((problem) => `heal: ${problem}`));
  anomalies.push(...(await waitSettled(world, receiver, settle_timeout_ms)).map((problem) => `settle: ${problem}`));
  const settle_s = (Date.now() - settle_started_ms) / 1000;
  say('chaos: checking the ledger, balances, statements, intents and webhooks ...');
  const state = await readFinalState(platform.stack, world, receiver);
  anomalies.push(...checkRun(world.history, state));
  const deliveries = countBy(state.webhooks.map((event) => event.event_id));
  const webhooks = { received: state.webhooks.length, events: deliveries.size, redelivered: [...deliveries.values()].filter((times) => times > 1).length };
  return { seed: options.seed, duration_s: elapsed_s(), faults, counters, history: world.history, settle_s, anomalies, webhooks, log_dir: platform.stack.logDir };
}

/** Injects each fault after `interval_ms` of calm, heals it, and waits until every service is ready again. */
async function runNemesis(
  platform: ChaosPlatform,
  plan: readonly Fault[],
  context: { interval_ms: number; say: Say; elapsed_s: () => number; faults: FaultRecord[] },
): Promise<string[]> {
  for (const [index, fault] of plan.entries()) {
    await sleep(context.interval_ms);
    const at_s = context.elapsed_s();
    context.say(`chaos: fault ${index + 1}/${plan.length} at ${at_s.toFixed(0)} s: ${describeFault(fault)}`);
    const injected_ms = Date.now();
    try {
      await platform.inject(fault);
    } catch (error) {
      return [`nemesis: ${describeFault(fault)} failed: ${errorMessage(error)}`];
    }
    const problems = await platform.waitHealthy();
    context.faults.push({ fault, at_s, heal_ms: Date.now() - injected_ms });
    context.say(`chaos: fault ${index + 1} healed in ${((Date.now() - injected_ms) / 1000).toFixed(1)} s`);
    // A platform that does not come back is the finding: more faults would only bury it.
    if (problems.length > 0) return problems.map((problem) => `heal after ${describeFault(fault)}: ${problem}`);
  }
  return [];
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
