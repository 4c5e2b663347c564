import { errorMessage, type InfraHandle, type ServiceHandle } from '@paynet/devstack';

export type Say = (line: string) => void;

const failure_log_lines = 25;

/**
 * Owns what `npm start` started and ends it in order: services first (they
 * still need the database and NATS to finish cleanly), then NATS, then
 * PostgreSQL. A first Ctrl-C or SIGTERM stops cleanly and exits 0; a
 * second one kills what is left at once.
 */
export class Supervisor {
  private readonly services: ServiceHandle[] = [];
  private readonly infra: InfraHandle[] = [];
  private stopping = false;

  constructor(private readonly say: Say) {}

  get isStopping(): boolean {
    return this.stopping;
  }

  handleSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (!this.stopping) return void this.shutdown(0, `${signal} received`);
        this.say(`${signal} again: killing what is left`);
        for (const service of this.services) void service.kill();
        process.exit(1);
      });
    }
  }

  /** Infrastructure, in start order (stopped in reverse). */
  addInfra(handle: InfraHandle): void {
    this.infra.push(handle);
  }

  /** A service; if it dies while we are not stopping, everything stops with its last log lines. */
  addService(service: ServiceHandle): void {
    this.services.push(service);
    void service.exited.then((info) => {
      if (this.stopping) return;
      this.say(`${service.name} exited unexpectedly (${info.signal ?? `code ${info.code}`})`);
      this.printTail(service);
      void this.shutdown(1, `${service.name} died`);
    });
  }

  printTail(service: ServiceHandle): void {
    const lines = service.tail(failure_log_lines);
    const where = service.logFile ?? 'its output';
    this.say(lines.length === 0 ? `(nothing in ${where})` : `last lines of ${where}:`);
    for (const line of lines) this.say(`  | ${line}`);
  }

  /** Stops everything in order, then exits with `code`. Safe to call more than once. */
  async shutdown(code: number, reason: string): Promise<never> {
    if (!this.stopping) {
      this.stopping = true;
      this.say(`stopping (${reason}) ...`);
      await this.stopAll();
      this.say('stopped');
      process.exit(code);
    }
    return new Promise<never>(() => undefined); // the first call exits
  }

  private async stopAll(): Promise<void> {
    const running = this.services.filter((service) => service.running);
    const results = await Promise.allSettled(running.map((service) => service.stop()));
    for (const result of results) if (result.status === 'rejected') this.say(`  ${errorMessage(result.reason)}`);
    if (running.length > 0) this.say(`  stopped ${running.map((service) => service.name).join(', ')}`);
    for (const handle of [...this.infra].reverse()) {
      if (!handle.started) continue;
      await handle.stop().catch((error: unknown) => this.say(`  ${errorMessage(error)}`));
      this.say(`  stopped ${handle.name}`);
    }
  }
}
