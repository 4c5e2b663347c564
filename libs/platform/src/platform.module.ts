import { DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { natsNames } from '@paynet/contracts';
import { LoggerModule } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { ADMIN_TOKEN, AuthGuard } from './auth/auth.guard.js';
import { NatsHolderAuthenticator, NatsMerchantAuthenticator } from './auth/nats-authenticators.js';
import { HOLDER_AUTHENTICATOR, MERCHANT_AUTHENTICATOR } from './auth/principal.js';
import { RevocationAnnouncer } from './auth/revocations.js';
import { type BaseConfig, CONFIG } from './config/config.js';
import { SECRET_BOX, secretBoxOf } from './crypto/secret-box.js';
import { dataSourceOptions, type ServiceDatabaseSettings } from './database/database.js';
import { GroupCommit } from './database/group-commit.js';
import { MIGRATED_AS_OWNER, MigrationRunner } from './database/migration-runner.js';
import { migrateAsOwner, type OwnerMigrationSettings } from './database/roles.js';
import { ApiExceptionFilter } from './errors/api-exception.filter.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IdempotencyStore } from './idempotency/idempotency.store.js';
import { IdempotencySweeper } from './idempotency/idempotency.sweeper.js';
import { natsAccessOptions } from './nats/nats-access.js';
import { connectNats, NATS_CONNECTION, NATS_NAMES, NatsConnectionCloser } from './nats/nats-connection.js';
import { PrefixedClientNats } from './nats/nats-transport.js';
import { RPC_SETTINGS, RpcClient } from './nats/rpc-client.js';
import { RpcContextInterceptor } from './nats/rpc-context.interceptor.js';
import { HealthController, ShutdownState } from './observability/health.js';
import { loggerParams } from './observability/logging.js';
import { MetricsController } from './observability/metrics.js';
import { OutboxPruner, OutboxPublisher, OutboxStatement, OutboxWriter } from './outbox/outbox.js';
import { EarlyRefusal } from './rate-limits/early-refusal.js';
import { RateLimits } from './rate-limits/rate-limits.js';
import { AdmissionInterceptor, RequestAdmission } from './rate-limits/request-admission.js';
import { REPLICA_CENSUS_SERVICE, ReplicaCensus } from './rate-limits/replica-census.js';

export type ServiceName = 'accounts' | 'merchants' | 'payments' | 'push';

export interface PlatformOptions {
  service: ServiceName;
  config: BaseConfig;
  entities: ServiceDatabaseSettings['entities'];
  migrations: ServiceDatabaseSettings['migrations'];
  /** Does this service write events (outbox, its publisher and pruner)? */
  outbox: boolean;
  /** Tables whose rows are never updated or deleted: the runtime role may only read and insert (docs/SECURITY.md). */
  append_only_tables?: readonly string[];
  /**
   * Credentials this service checks itself: it then provides MERCHANT_AUTHENTICATOR
   * or HOLDER_AUTHENTICATOR in its own module; the others are asked over NATS.
   */
  local_authenticators?: ('merchant' | 'holder')[];
}

/**
 * Everything a service shares with the others, in one import: config, logs,
 * database and migrations, NATS request-reply, the error envelope, auth and
 * rate limits, idempotency, the outbox, health and metrics.
 */
@Global()
@Module({})
export class PlatformModule {
  static forService(options: PlatformOptions): DynamicModule {
    const { config, service } = options;
    const database: ServiceDatabaseSettings = {
      url: config.DATABASE_URL,
      schema: service,
      pool_size: config.DATABASE_POOL_SIZE,
      entities: options.entities,
      migrations: options.migrations,
      application_name: `paynet-${service}`,
    };
    const access = natsAccessOptions(config, service);
    const transport = { url: config.NATS_URL, prefix: config.NATS_PREFIX, queue: service, name: `${service}-client`, access };
    const providers: Provider[] = [
      { provide: CONFIG, useValue: config },
      { provide: SECRET_BOX, useValue: secretBoxOf(config) },
      { provide: ADMIN_TOKEN, useValue: config.ADMIN_TOKEN },
      { provide: NATS_NAMES, useValue: natsNames(config.NATS_PREFIX) },
      { provide: NATS_CONNECTION, useFactory: () => connectNats(config.NATS_URL, service, access) },
      {
        provide: RPC_SETTINGS,
        useFactory: () => ({ client: new PrefixedClientNats(transport), default_timeout_ms: config.NATS_REQUEST_TIMEOUT_MS }),
      },
      { provide: 'SERVICE_SCHEMA', useValue: service },
      // Migrated by the data source's factory when there is an owner URL.
      { provide: MIGRATED_AS_OWNER, useValue: config.DATABASE_OWNER_URL !== undefined },
      { provide: REPLICA_CENSUS_SERVICE, useValue: service },
      ReplicaCensus,
      RateLimits,
      RequestAdmission,
      EarlyRefusal,
      RpcClient,
      RevocationAnnouncer,
      NatsConnectionCloser,
      {
        provide: GroupCommit,
        useFactory: (dataSource: DataSource) => new GroupCommit(dataSource, { in_flight_max: config.DATABASE_GROUP_COMMIT_IN_FLIGHT }),
        inject: [DataSource],
      },
      IdempotencyStore,
      // Every service has an idempotency_keys table (see idempotency_table_sql in its first migration).
      IdempotencySweeper,
      MigrationRunner,
      ShutdownState,
      ...(options.local_authenticators?.includes('merchant') ? [] : [{ provide: MERCHANT_AUTHENTICATOR, useClass: NatsMerchantAuthenticator }]),
      ...(options.local_authenticators?.includes('holder') ? [] : [{ provide: HOLDER_AUTHENTICATOR, useClass: NatsHolderAuthenticator }]),
      { provide: APP_FILTER, useClass: ApiExceptionFilter },
      { provide: APP_GUARD, useClass: AuthGuard },
      { provide: APP_INTERCEPTOR, useClass: AdmissionInterceptor },
      { provide: APP_INTERCEPTOR, useClass: RpcContextInterceptor },
      { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      ...(options.outbox ? [OutboxWriter, OutboxStatement, OutboxPruner, OutboxPublisher] : []),
    ];
    return {
      module: PlatformModule,
      imports: [
        LoggerModule.forRoot(loggerParams(service, config.LOG_LEVEL)),
        TypeOrmModule.forRootAsync({
          // With an owner URL the owner migrates and grants first: the runtime role may not exist before.
          useFactory: async () => {
            if (config.DATABASE_OWNER_URL) await migrateAsOwner(ownerMigration(options, config.DATABASE_OWNER_URL));
            return dataSourceOptions(database);
          },
        }),
        TerminusModule,
      ],
      controllers: [HealthController, MetricsController],
      providers,
      exports: providers.filter((provider) => typeof provider === 'function' || !String((provider as { provide: unknown }).provide).startsWith('APP_')),
    };
  }
}

/** The owner's migration run of a service: its migrations, then its runtime role's grants. */
export function ownerMigration(
  options: Pick<PlatformOptions, 'service' | 'config' | 'migrations' | 'append_only_tables'>,
  owner_url: string,
): OwnerMigrationSettings {
  return {
    owner_url,
    runtime_url: options.config.DATABASE_URL,
    schema: options.service,
    migrations: options.migrations,
    append_only_tables: options.append_only_tables ?? [],
    application_name: `paynet-${options.service}`,
  };
}
