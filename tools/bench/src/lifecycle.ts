import { errorMessage } from '@paynet/devstack';

export type Say = (line: string) => void;

/**
 * Everything a run started, undone in reverse order exactly once: at the
 * end, on an error, or on the first Ctrl-C / SIGTERM (which also aborts
 * the phase running). A second signal exits at once; the devstack reaper
 * then ends the servers and the service.
 */
export class Lifecycle {
  readonly abort = new AbortController();
  private readonly undo: { what: string; task: () => Promise<unknown> }[] = [];
  private finishing: Promise<never> | undefined;
  private exit_code = 0;

  constructor(private readonly say: Say) {}

  get isFinishing(): boolean {
    return this.finishing !== undefined;
  }

  /** Whether the run is ending with a non-zero exit code (for the undo tasks). */
  get failed(): boolean {
    return this.exit_code !== 0;
  }

  handleSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (!this.finishing) return void this.finish(130, `${signal} received`);
        this.say(`${signal} again: exiting now`);
        process.exit(1);
      });
    }
  }

  /** `task` runs when the run ends (last registered, first run). */
  defer(what: string, task: () => Promise<unknown>): void {
    this.undo.push({ what, task });
  }

  /** Aborts what is running, undoes everything, exits with `code`. Later calls wait for the first. */
  finish(code: number, reason?: string): Promise<never> {
    if (!this.finishing) this.exit_code = code;
    this.finishing ??= this.undoAll(reason).then(() => process.exit(code));
    return this.finishing;
  }

  private async undoAll(reason: string | undefined): Promise<void> {
    if (reason) this.say(`stopping (${reason}) ...`);
    this.abort.abort();
    // Bounded: each task is (stopping a child waits at most its stop and kill timeouts).
    for (const { what, task } of this.undo.reverse()) {
      try {
        await task();
      } catch (error) {
        this.say(`  could not ${what}: ${errorMessage(error)}`);
      }
    }
  }
}
