import {
  ensureNats,
  errorMessage,
  type InfraHandle,
  isProcessAlive,
  serviceNames,
  sleep,
  startEmbeddedPostgres,
  waitReady,
  type ServiceName,
} from '@paynet/devstack';
import { startStack, type Stack } from '@paynet/testing';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fault } from './faults.js';

export type Say = (line: string) => void;

/** A service booting (Nest, migrations) or PostgreSQL recovering on a busy 2-core machine. */
export const heal_timeout_ms = 120_000;
/** A process manager does not restart at once; neither do we. */
const respawn_delay_ms = 500;
const process_exit_timeout_ms = 30_000;
const process_exit_poll_ms = 50;

/**
 * Settings that make the platform settle within the run: a lost ledger answer
 * is 2 s (not 5 s) of NATS timeout, and the reconciler takes it up after 4 s
 * (not 30 s). Logs at warn: info would log every request, costing the CPU the
 * run is short of.
 */
const chaos_env: Record<string, string> = { LOG_LEVEL: 'warn', NATS_REQUEST_TIMEOUT_MS: '2000' };
const chaos_service_env: Partial<Record<ServiceName, Record<string, string>>> = {
  payments: { RECONCILE_INTERVAL_MS: '1000', RECONCILE_AFTER_MS: '4000' },
};

/**
 * The whole platform as separate processes this run owns: its own
 * PostgreSQL (durable settings: a crash must lose nothing committed) and
 * nats-server on free ports, and the four services from dist. Each fault
 * it is asked for is injected and healed before `inject` returns.
 */
export class ChaosPlatform {
  private constructor(
    readonly stack: Stack,
    private postgres: InfraHandle,
    private nats: InfraHandle,
    private readonly folder: string,
    private readonly say: Say,
  ) {}

  static async start(folder: string, options: { build: boolean; say: Say }): Promise<ChaosPlatform> {
    mkdirSync(join(folder, 'logs'), { recursive: true });
    const postgres = await startPostgres(folder, undefined);
    let nats: InfraHandle | undefined;
    try {
      nats = await startNats(folder, undefined);
      options.say(`chaos: PostgreSQL ${postgres.url}, nats-server ${nats.url} (ours to crash); starting the four services ...`);
      const stack = await startStack({
        infra: { adminDatabaseUrl: postgres.url, natsUrl: nats.url },
        build: options.build,
        env: chaos_env,
        serviceEnv: chaos_service_env,
        ready_timeout_ms: heal_timeout_ms,
      });
      return new ChaosPlatform(stack, postgres, nats, folder, options.say);
    } catch (error) {
      await nats?.stop().catch(() => undefined);
      await postgres.stop().catch(() => undefined);
      throw error;
    }
  }

  /** Injects `fault` and heals it: when this returns, every process runs again. */
  async inject(fault: Fault): Promise<void> {
    switch (fault.kind) {
      case 'kill':
        await this.stack.kill(fault.service);
        await sleep(respawn_delay_ms);
        await this.stack.restart(fault.service);
        return;
      case 'pause':
        this.stack.pause(fault.service);
        try {
          await sleep(fault.pause_ms);
        } finally {
          this.stack.resume(fault.service);
        }
        return;
      case 'nats':
        await killByPidFile(join(this.folder, 'nats', 'nats-server.pid'), 'SIGKILL');
        await sleep(respawn_delay_ms);
        this.nats = await startNats(this.folder, portOf(this.nats.url));
        return;
      case 'postgres':
        // The first line of postmaster.pid is the postmaster's pid.
        await killByPidFile(join(this.folder, 'postgres', 'postmaster.pid'), 'SIGQUIT');
        await sleep(respawn_delay_ms);
        this.postgres = await startPostgres(this.folder, portOf(this.postgres.url));
        return;
    }
  }

  /** Every service answers /health/ready (its database and NATS reachable again), or the reason it does not. */
  async waitHealthy(timeout_ms: number = heal_timeout_ms): Promise<string[]> {
    const problems = await Promise.all(
      serviceNames.map(async (name) => {
        if (!this.stack.isRunning(name)) return [`${name} is not running`];
        try {
          await waitReady(`${this.stack.urls[name]}/health/ready`, timeout_ms);
          return [];
        } catch (error) {
          return [`${name} not ready: ${errorMessage(error)}`];
        }
      }),
    );
    return problems.flat();
  }

  /** Stops the services (dropping the run's database), then nats-server and PostgreSQL. */
  async stop(): Promise<void> {
    for (const task of [() => this.stack.stop(), () => this.nats.stop(), () => this.postgres.stop()]) {
      await task().catch((error: unknown) => this.say(`chaos: while stopping: ${errorMessage(error)}`));
    }
  }
}

function startPostgres(folder: string, port: number | undefined): Promise<InfraHandle> {
  // Not `ephemeral`: that turns fsync and synchronous_commit off, and an immediate shutdown would then lose commits.
  return startEmbeddedPostgres({ dataDir: join(folder, 'postgres'), port, logFile: join(folder, 'logs', 'postgres.log'), detached: true, unref: true, env: {} });
}

function startNats(folder: string, port: number | undefined): Promise<InfraHandle> {
  // env without NATS_URL: this run starts its own server whatever the caller's environment says.
  const env = { PATH: process.env['PATH'] };
  return ensureNats({ dataDir: join(folder, 'nats'), port, logFile: join(folder, 'logs', 'nats.log'), detached: true, unref: true, env });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Signals the process named by the first line of `pid_file` (one we started) and waits until it is gone. */
async function killByPidFile(pid_file: string, signal: NodeJS.Signals): Promise<void> {
  const pid = Number.parseInt(readFileSync(pid_file, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error(`no pid in ${pid_file}`);
  process.kill(pid, signal);
  for (let waited_ms = 0; waited_ms < process_exit_timeout_ms; waited_ms += process_exit_poll_ms) {
    if (!isProcessAlive(pid)) return;
    await sleep(process_exit_poll_ms);
  }
  throw new Error(`pid ${pid} (${pid_file}) still alive ${process_exit_timeout_ms} ms after ${signal}`);
}
