import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { reaper, type ReaperTier } from './reaper.js';
import { withinTime } from './sleep.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedChildOptions {
  /** Shown in messages. */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** stdout and stderr are appended to this file (preferred: no pipe through us). */
  logFile?: string;
  /** Otherwise each output line is passed here. */
  onLine?: (line: string) => void;
  /** Own process group: a Ctrl-C in the terminal reaches only us, and we stop children in order. */
  detached?: boolean;
  /** Do not keep our event loop alive for this child (tests: Jest must be able to exit). */
  unref?: boolean;
  /** The signal asking for a graceful stop, and the reaper's order if we die first. */
  stop_signal: NodeJS.Signals;
  tier: ReaperTier;
  /** Removed by the reaper after the process is gone, if we died without stopping it. */
  removeDirOnOrphan?: string;
}

export const stop_timeout_ms = 15_000;
const kill_timeout_ms = 5_000;
const tail_lines_kept = 200;
const tail_bytes_max = 64 * 1024;

/** A child process we own: its output, its end, and a bounded way to stop it. */
export class ManagedChild {
  readonly process: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private readonly lines: string[] = [];
  private readonly logOffset: number;

  constructor(private readonly options: ManagedChildOptions) {
    const { stdio, offset } = openOutput(options.logFile);
    this.logOffset = offset;
    this.process = spawn(options.command, [...options.args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      detached: options.detached ?? false,
      stdio: ['ignore', stdio, stdio],
    });
    if (typeof stdio === 'number') closeSync(stdio); // the child holds its own copy
    this.exited = this.watchExit();
    this.collectLines();
    if (this.process.pid !== undefined) {
      reaper.watch({ pid: this.process.pid, signal: options.stop_signal, tier: options.tier, removeDir: options.removeDirOnOrphan });
    }
    if (options.unref) this.process.unref();
  }

  get name(): string {
    return this.options.name;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The last `count` lines it printed in this run (from the log file or the kept lines). */
  tail(count = 40): string[] {
    const lines = this.options.logFile ? readTail(this.options.logFile, this.logOffset) : this.lines;
    return lines.slice(-count);
  }

  /** Graceful signal, then SIGKILL after timeout_ms; resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = this.options.stop_signal, timeout_ms = stop_timeout_ms): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.signal(signal);
    // A paused (SIGSTOP) process sees the signal only once continued.
    if (signal !== 'SIGKILL') this.signal('SIGCONT');
    const graceful = await withinTime(this.exited, timeout_ms);
    if (graceful) return graceful;
    this.signal('SIGKILL');
    const killed = await withinTime(this.exited, kill_timeout_ms);
    if (!killed) throw new Error(`${this.name} (pid ${this.process.pid}) did not exit even after SIGKILL`);
    return killed;
  }

  /** Immediate SIGKILL (a crash, for tests); resolves once the process is gone. */
  kill(): Promise<ExitInfo> {
    return this.stop('SIGKILL', kill_timeout_ms);
  }

  /** SIGSTOP: the process freezes with its connections open (a hung service, for tests); resume() continues it. */
  pause(): void {
    this.signal('SIGSTOP');
  }

  /** SIGCONT: a paused process carries on with what arrived meanwhile. */
  resume(): void {
    this.signal('SIGCONT');
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      this.process.kill(signal);
    } catch {
      // Already gone: the exit event settles `exited`.
    }
  }

  private watchExit(): Promise<ExitInfo> {
    return new Promise((resolve) => {
      const settle = (info: ExitInfo) => {
        if (this.exitInfo) return;
        this.exitInfo = info;
        if (this.process.pid !== undefined) reaper.unwatch(this.process.pid);
        resolve(info);
      };
      this.process.once('exit', (code, signal) => settle({ code, signal }));
      // Spawn failures (ENOENT, EACCES) come as 'error' without 'exit'.
      this.process.once('error', (error) => {
        this.keep(`${this.name}: ${error.message}`);
        settle({ code: null, signal: null });
      });
    });
  }

  private collectLines(): void {
    for (const stream of [this.process.stdout, this.process.stderr]) {
      if (!stream) continue;
      if (this.options.unref) (stream as unknown as { unref?: () => void }).unref?.();
      createInterface({ input: stream }).on('line', (line) => {
        this.keep(line);
        this.options.onLine?.(line);
      });
    }
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > tail_lines_kept) this.lines.shift();
  }
}

function openOutput(logFile: string | undefined): { stdio: number | 'pipe'; offset: number } {
  if (!logFile) return { stdio: 'pipe', offset: 0 };
  const fd = openSync(logFile, 'a');
  return { stdio: fd, offset: fstatSync(fd).size };
}

/** The last lines written to `file` after `offset` (bounded read). */
function readTail(file: string, offset: number): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const start = Math.max(offset, size - tail_bytes_max);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString('utf8').split('\n').filter((line) => line.length > 0);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface RunResult {
  code: number | null;
  output: string;
}

const run_output_bytes_max = 64 * 1024;

/** Runs a short command to its end (bounded by timeout_ms), collecting its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number; timeout_ms: number },
): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, [...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout_ms);
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-run_output_bytes_max);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: `${output}${error.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
