import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicTask } from '@paynet/platform';

/**
 * Background work tied to the app's lifecycle: a PeriodicTask started at
 * bootstrap and stopped before the database closes (the running pass
 * finishes). A subclass says what one pass does.
 */
export abstract class Sweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  protected readonly task: PeriodicTask;

  protected constructor(name: string, interval_ms: number) {
    this.task = new PeriodicTask(name, interval_ms, () => this.sweepOnce());
  }

  /** One pass; answers how many items it settled. */
  abstract sweepOnce(): Promise<number>;

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }
}
