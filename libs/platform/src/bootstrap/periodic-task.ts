import { type BeforeApplicationShutdown, Logger, type OnApplicationBootstrap } from '@nestjs/common';

/**
 * Background work on a fixed interval (sweepers): a pass never overlaps the
 * previous one, a failed pass is logged and the next tick tries again, and
 * stop() lets a running pass finish before the database closes.
 */
export class PeriodicTask {
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly name: string,
    private readonly interval_ms: number,
    private readonly work: () => Promise<unknown>,
  ) {
    this.logger = new Logger(name);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.work()
        .catch((error: unknown) => this.logger.warn({ err: error }, `${this.name} failed; the next tick tries again`))
        .finally(() => (this.running = undefined));
    }, this.interval_ms);
    this.timer.unref();
  }

  /** True once stop() was called: a long pass may check it between batches. */
  get stopping(): boolean {
    return this.timer === undefined;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/**
 * A PeriodicTask tied to the app's lifecycle: started at bootstrap, stopped
 * before the database closes (the running pass finishes). A subclass says
 * what one pass does; every sweeper and the reconciler are one.
 */
export abstract class Sweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  protected readonly task: PeriodicTask;

  protected constructor(name: string, interval_ms: number) {
    this.task = new PeriodicTask(name, interval_ms, () => this.sweepOnce());
  }

  /** One pass; answers how many items it handled. */
  abstract sweepOnce(): Promise<number>;

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }
}

/**
 * One sweeper pass in bounded batches: deletes a batch at a time until one
 * comes back short, `batches_max` ran, or the task is stopping; answers how
 * many rows went. Short statements: no long lock on the table.
 */
export async function sweepInBatches(
  deleteBatch: () => Promise<number>,
  limits: { batch_max: number; batches_max: number },
  task?: PeriodicTask,
): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < limits.batches_max && !(task?.stopping ?? false); batch++) {
    const count = await deleteBatch();
    deleted += count;
    if (count < limits.batch_max) break;
  }
  return deleted;
}
