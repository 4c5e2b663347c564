import { errorMessage, type ExitInfo, type InfraHandle, type ServiceHandle } from '@paynet/devstack';
import { afterCrash, restart_policy, type RestartPolicy } from './restart-policy.js';

export type Say = (line: string) => void;

const failure_log_lines = 25;

export interface SupervisorOptions {
  policy?: RestartPolicy;
  /** Ends the process; tests pass their own. */
  exit?: (code: number) => void;
}

/** One service as the supervisor sees it, across its restarts. */
interface Supervised {
  name: string;
  start: () => ServiceHandle;
  current: ServiceHandle;
  /** Once ready, a crash is restarted; before, it is a failed start (a bad setting, a build missing). */
  was_ready: boolean;
  crashes_ms: number[];
  restarts: number;
  restart_timer: NodeJS.Timeout | undefined;
}

/**
 * Owns what `npm start` started. A service that crashes after it was ready
 * is started again after a delay (see restart-policy.ts), with one line on
 * the terminal for the crash (and its last log lines) and one when it is
 * back; one that keeps crashing stops everything with exit code 1. Stops
 * in order: services first (they still need the database and NATS to
 * finish cleanly), then NATS, then PostgreSQL. A first Ctrl-C or SIGTERM
 * stops cleanly and exits 0; a second one kills what is left at once.
 */
export class Supervisor {
  private readonly services = new Map<string, Supervised>();
  private readonly infra: InfraHandle[] = [];
  private readonly policy: RestartPolicy;
  private readonly exit: (code: number) => void;
  private stopping = false;

  constructor(
    private readonly say: Say,
    options: SupervisorOptions = {},
  ) {
    this.policy = options.policy ?? restart_policy;
    this.exit = options.exit ?? ((code) => process.exit(code));
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  handleSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (!this.stopping) return void this.shutdown(0, `${signal} received`);
        this.say(`${signal} again: killing what is left`);
        for (const service of this.services.values()) void service.current.kill();
        this.exit(1);
      });
    }
  }

  /** Infrastructure, in start order (stopped in reverse). */
  addInfra(handle: InfraHandle): void {
    this.infra.push(handle);
  }

  /** Starts a service with `start` (called again for each restart) and watches it. */
  addService(name: string, start: () => ServiceHandle): ServiceHandle {
    const current = start();
    const service: Supervised = { name, start, current, was_ready: false, crashes_ms: [], restarts: 0, restart_timer: undefined };
    this.services.set(name, service);
    this.watch(service, current);
    return current;
  }

  /** From now on a crash of `name` is restarted rather than a failed start. */
  markReady(name: string): void {
    const service = this.services.get(name);
    if (service) service.was_ready = true;
  }

  /** The running instance of `name` (a new one after each restart). */
  current(name: string): ServiceHandle | undefined {
    return this.services.get(name)?.current;
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
      this.exit(code);
    }
    return new Promise<never>(() => undefined); // the first call exits
  }

  private watch(service: Supervised, handle: ServiceHandle): void {
    void handle.exited.then((info) => {
      if (this.stopping || service.current !== handle) return;
      this.onCrash(service, handle, info);
    });
  }

  private onCrash(service: Supervised, handle: ServiceHandle, info: ExitInfo): void {
    const how = info.signal ?? `code ${info.code}`;
    if (!service.was_ready) {
      this.say(`${service.name} exited unexpectedly (${how}) before it was ready`);
      this.printTail(handle);
      void this.shutdown(1, `${service.name} died`);
      return;
    }
    const decision = afterCrash(service.crashes_ms, Date.now(), this.policy);
    service.crashes_ms = decision.crashes_ms;
    const window_s = Math.round(this.policy.crash_window_ms / 1000);
    if (decision.kind === 'give_up') {
      this.say(`${service.name} exited unexpectedly (${how}): it crashed ${decision.crashes_ms.length} times within ${window_s} s, so it is not restarted again`);
      this.printTail(handle);
      void this.shutdown(1, `${service.name} keeps crashing`);
      return;
    }
    const delay_s = (decision.delay_ms / 1000).toFixed(1);
    this.say(`${service.name} exited unexpectedly (${how}): restarting it in ${delay_s} s (crash ${decision.crashes_ms.length} of ${this.policy.crashes_max} allowed within ${window_s} s)`);
    this.printTail(handle);
    service.restart_timer = setTimeout(() => this.restart(service), decision.delay_ms);
  }

  private restart(service: Supervised): void {
    service.restart_timer = undefined;
    if (this.stopping) return;
    let handle: ServiceHandle;
    try {
      handle = service.start();
    } catch (error) {
      this.say(`${service.name} could not be restarted: ${errorMessage(error)}`);
      void this.shutdown(1, `${service.name} could not be restarted`);
      return;
    }
    service.current = handle;
    service.restarts++;
    this.watch(service, handle);
    handle.waitReady(this.policy.ready_timeout_ms).then(
      () => this.say(`${service.name} is back on ${handle.url} (restart ${service.restarts}, pid ${handle.process.pid})`),
      (error: unknown) => {
        // A crash while starting is reported by its watcher; a hang is worth a line.
        if (handle.running && !this.stopping) this.say(`${service.name} restarted but is not ready: ${errorMessage(error)}`);
      },
    );
  }

  private async stopAll(): Promise<void> {
    for (const service of this.services.values()) clearTimeout(service.restart_timer);
    const running = [...this.services.values()].map((service) => service.current).filter((handle) => handle.running);
    const results = await Promise.allSettled(running.map((handle) => handle.stop()));
    for (const result of results) if (result.status === 'rejected') this.say(`  ${errorMessage(result.reason)}`);
    if (running.length > 0) this.say(`  stopped ${running.map((handle) => handle.name).join(', ')}`);
    for (const handle of [...this.infra].reverse()) {
      if (!handle.started) continue;
      await handle.stop().catch((error: unknown) => this.say(`  ${errorMessage(error)}`));
      this.say(`  stopped ${handle.name}`);
    }
  }
}
