import { Controller, Get, Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { NatsConnection } from '@nats-io/transport-node';
import { NATS_CONNECTION } from '../nats/nats-connection.js';
import { RateLimitExempt } from '../rate-limits/rate-limit-exempt.js';

const nats_flush_timeout_ms = 1_000;

/** Turns readiness off as soon as shutdown begins, so load balancers stop sending work. */
@Injectable()
export class ShutdownState implements OnApplicationShutdown {
  draining = false;
  onApplicationShutdown(): void {
    this.draining = true;
  }
}

@Controller('health')
@RateLimitExempt()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly shutdown: ShutdownState,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: 2_000 }),
      () => this.natsCheck(),
      () => (this.shutdown.draining ? this.indicators.check('process').down({ reason: 'draining' }) : this.indicators.check('process').up()),
    ]);
  }

  private async natsCheck() {
    const indicator = this.indicators.check('nats');
    if (this.nc.isClosed()) return indicator.down({ reason: 'closed' });
    try {
      await Promise.race([
        this.nc.flush(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), nats_flush_timeout_ms).unref()),
      ]);
      return indicator.up();
    } catch {
      return indicator.down({ reason: 'no answer' });
    }
  }
}
