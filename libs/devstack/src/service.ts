import { existsSync } from 'node:fs';
import { ManagedChild, type ExitInfo } from './child.js';
import { loopback_host } from './ports.js';
import { reaper_tiers } from './reaper.js';
import { servicePortVariable } from './stack-env.js';
import { errorMessage, sleep } from './sleep.js';

export interface StartServiceOptions {
  name: string;
  /** The compiled entry point, e.g. dist/apps/accounts/src/main.js. */
  entry: string;
  /** Added to our own environment; `<NAME>_PORT` is set from `port`. */
  env: Record<string, string>;
  port: number;
  /** stdout and stderr are appended to this file... */
  logFile?: string;
  /** ...or passed here line by line (e.g. printed with a prefix). */
  log?: (line: string) => void;
  cwd?: string;
  detached?: boolean;
  unref?: boolean;
  /** `--enable-source-maps` (default true); a benchmark turns it off to run as the image does. */
  sourceMaps?: boolean;
}

export interface ServiceHandle {
  name: string;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  process: ManagedChild['process'];
  logFile: string | undefined;
  exited: Promise<ExitInfo>;
  readonly running: boolean;
  /** Polls /health/ready until 200; fails at once if the process exits. */
  waitReady(timeout_ms: number): Promise<void>;
  /** The last lines it printed in this run. */
  tail(count?: number): string[];
  /** SIGTERM (or `signal`), then SIGKILL after a bound. */
  stop(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGKILL at once: a crash. */
  kill(): Promise<ExitInfo>;
  /** SIGSTOP: hung with its connections open; what is sent to it waits in its sockets. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

export const service_ready_poll_interval_ms = 200;

/**
 * V8's young generation is sized for throughput by default (semi-spaces of up
 * to 16 MB, 48 MB committed once a busy service has grown them); 2 MB keeps a
 * service's resident size about 30 MB lower, idle and under load, while a
 * request's garbage still dies young (measured: docs/BENCHMARKS.md).
 *
 * What a request keeps while it waits (payments' pay waits on accounts)
 * outlives that young generation and dies in the old one, which V8 lets grow
 * to up to 4x its live size between major collections when the heap limit is
 * large (it is a share of the machine's memory): payments swung between 150
 * and 250 MB. With a limit under 2 GB V8 grows it by 1.3x to 2x instead (1.4x
 * at 512 MB): payments stays flat near 135 MB, at no measurable GC cost. 512 MB
 * is ten times payments' live heap, so the limit itself is never what binds.
 * The Docker image sets the same through NODE_OPTIONS.
 */
export const service_node_flags: readonly string[] = ['--max-semi-space-size=2', '--max-old-space-size=512'];

/**
 * Benchmarking only: `PAYNET_CPU_PROF_DIR=<dir>` starts each service with V8's
 * CPU profiler (`--cpu-prof`, which NODE_OPTIONS refuses), a `.cpuprofile`
 * written into <dir> when the service exits.
 */
export function profilerFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const folder = env['PAYNET_CPU_PROF_DIR'];
  return folder ? ['--cpu-prof', '--cpu-prof-dir', folder] : [];
}
const health_request_timeout_ms = 2_000;

/** Starts one service with node; its HTTP port is passed as `<NAME>_PORT`. */
export function startService(options: StartServiceOptions): ServiceHandle {
  if (!existsSync(options.entry)) {
    throw new Error(`${options.name}: ${options.entry} does not exist: run \`npm run build\` (is apps/${options.name}/src/main.ts written yet?)`);
  }
  const child = new ManagedChild({
    name: options.name,
    command: process.execPath,
    // Source maps for readable stack traces in development and tests; a benchmark runs without them, as the image does.
    args: [...(options.sourceMaps === false ? [] : ['--enable-source-maps']), ...service_node_flags, ...profilerFlags(), options.entry],
    env: { ...process.env, ...options.env, [servicePortVariable(options.name)]: String(options.port) },
    cwd: options.cwd,
    logFile: options.logFile,
    onLine: options.log,
    detached: options.detached,
    unref: options.unref,
    stop_signal: 'SIGTERM',
    tier: reaper_tiers.service,
  });
  const url = `http://${loopback_host}:${options.port}`;
  return {
    name: options.name,
    url,
    port: options.port,
    process: child.process,
    logFile: options.logFile,
    exited: child.exited,
    get running() {
      return child.running;
    },
    waitReady: (timeout_ms) => waitReady(`${url}/health/ready`, timeout_ms, { failIf: () => exitReason(child) }),
    tail: (count) => child.tail(count),
    stop: (signal) => child.stop(signal),
    kill: () => child.kill(),
    pause: () => child.pause(),
    resume: () => child.resume(),
  };
}

function exitReason(child: ManagedChild): string | undefined {
  const info = child.exitInfo;
  if (!info) return undefined;
  return `${child.name} exited (${info.signal ?? `code ${info.code}`})`;
}

export interface WaitReadyOptions {
  interval_ms?: number;
  /** Checked before each attempt: a reason to give up now (the process died). */
  failIf?: () => string | undefined;
}

/** Polls `url` until it answers 200, for at most timeout_ms. */
export async function waitReady(url: string, timeout_ms: number, options: WaitReadyOptions = {}): Promise<void> {
  const interval_ms = options.interval_ms ?? service_ready_poll_interval_ms;
  const attempts_max = Math.max(1, Math.ceil(timeout_ms / interval_ms));
  let last = 'no answer yet';
  for (let attempt = 0; attempt < attempts_max; attempt++) {
    const reason = options.failIf?.();
    if (reason) throw new Error(`${reason} before ${url} was ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(health_request_timeout_ms) });
      await response.arrayBuffer(); // free the connection
      if (response.status === 200) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = errorMessage(error);
    }
    await sleep(interval_ms);
  }
  throw new Error(`${url} not ready after ${timeout_ms} ms (last: ${last})`);
}
