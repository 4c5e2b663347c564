import { type DynamicModule, Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import type { BaseConfig } from '../config/config.js';
import { dataSourceOptions, runMigrations, type ServiceDatabaseSettings } from '../database/database.js';
import { requestContextMiddleware } from '../observability/logging.js';
import { httpMetricsMiddleware } from '../observability/metrics.js';
import { natsAccessOptions } from '../nats/nats-access.js';
import { PrefixedServerNats } from '../nats/nats-transport.js';
import { EarlyRefusal } from '../rate-limits/early-refusal.js';
import { error_envelope_schema, error_envelope_schema_name } from '../openapi/api-errors.js';
import { answerMalformedRequestsInApiShape } from '../validation/malformed-request.js';
import { exactJsonAnswersMiddleware } from '../validation/json-numbers.js';
import { requestPathMiddleware } from '../validation/request-path.js';
import { migrateAsOwner } from '../database/roles.js';
import { ownerMigration, type ServiceName } from '../platform.module.js';

/** What stops a service gracefully: a supervisor (SIGTERM), Ctrl-C (SIGINT), a closed terminal (SIGHUP). */
const shutdown_signals = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export interface ServiceDefinition {
  service: ServiceName;
  config: BaseConfig;
  port: number;
  host?: string;
  module: DynamicModule;
  /** The service's migrations, for `main.js migrate` (which boots nothing else). */
  migrations?: ServiceDatabaseSettings['migrations'];
  /** Its append-only tables (PlatformOptions.append_only_tables), for the grants `main.js migrate` gives. */
  append_only_tables?: readonly string[];
}

/**
 * Creates the hybrid app: HTTP for the public API, a NATS microservice in the
 * service's queue group for calls from other services. Pipes, filters and
 * guards apply to both (inheritAppConfig). `main.js migrate` only migrates.
 */
export async function createServiceApp(definition: ServiceDefinition): Promise<NestExpressApplication> {
  const { config, service } = definition;
  const app = await NestFactory.create<NestExpressApplication>(definition.module, {
    rawBody: true,
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.use(requestContextMiddleware);
  app.use(httpMetricsMiddleware);
  app.use(requestPathMiddleware);
  app.use(exactJsonAnswersMiddleware);
  // Raw bytes are kept for signature checks; the limit keeps one request from eating memory.
  app.useBodyParser('json', { limit: config.HTTP_BODY_LIMIT, strict: true, type: () => true });
  app.disable('x-powered-by');
  app.set('etag', false);
  app.connectMicroservice<MicroserviceOptions>(
    {
      strategy: new PrefixedServerNats({
        url: config.NATS_URL,
        prefix: config.NATS_PREFIX,
        queue: service,
        name: `${service}-server`,
        access: natsAccessOptions(config, service),
      }),
    },
    { inheritAppConfig: true },
  );
  // Not Nest's default list, which has SIGUSR2: `node --heapsnapshot-signal=SIGUSR2` would close the app (and then
  // take a snapshot instead of exiting), leaving a process that no longer listens but never exits.
  app.enableShutdownHooks(shutdown_signals);
  answerMalformedRequestsInApiShape(app.getHttpServer());
  // In front of Express: a request over its budget is refused before anything else runs for it (docs/SECURITY.md, Rate limits).
  app.get(EarlyRefusal).guard(app.getHttpServer());
  serveOpenApi(app, service);
  return app;
}

/** OpenAPI at /docs (UI) and /docs-json, built from the routes and their zod bodies. */
function serveOpenApi(app: NestExpressApplication, service: string): void {
  const config = new DocumentBuilder()
    .setTitle(`paynet ${service}`)
    .setDescription(`The ${service} service of paynet. Errors answer { error: { type, code, message, param? } }.`)
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Operator token or a holder account token' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'Merchant key; with X-Timestamp, X-Nonce, X-Signature' }, 'merchant')
    .build();
  const document = () => {
    const built = SwaggerModule.createDocument(app, config);
    built.components = { ...built.components, schemas: { ...built.components?.schemas, [error_envelope_schema_name]: structuredClone(error_envelope_schema) } };
    return built;
  };
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

export async function runService(definition: ServiceDefinition): Promise<NestExpressApplication | undefined> {
  if (process.argv[2] === 'migrate') {
    await migrateOnly(definition);
    return undefined;
  }
  const app = await createServiceApp(definition);
  await app.startAllMicroservices();
  await app.listen(definition.port, definition.host ?? '0.0.0.0');
  new NestLogger('Bootstrap').log(`${definition.service} listening on :${definition.port}`);
  return app;
}

/**
 * Applies the migrations with a plain DataSource: no module starts, nothing
 * listens or publishes. As DATABASE_OWNER_URL (then grants DATABASE_URL's
 * role its DML) when set, else as DATABASE_URL.
 */
async function migrateOnly(definition: ServiceDefinition): Promise<void> {
  const { config, service } = definition;
  const migrations = definition.migrations ?? [];
  const applied = config.DATABASE_OWNER_URL
    ? await migrateAsOwner(ownerMigration({ service, config, migrations, append_only_tables: definition.append_only_tables }, config.DATABASE_OWNER_URL))
    : await migrateWith(config.DATABASE_URL, service, migrations);
  process.stdout.write(`${service}: ${applied.length} migration(s) applied\n`);
}

async function migrateWith(url: string, service: ServiceName, migrations: ServiceDatabaseSettings['migrations']): Promise<string[]> {
  const dataSource = new DataSource(
    dataSourceOptions({ url, schema: service, pool_size: 2, entities: [], migrations, application_name: `paynet-${service}-migrate` }),
  );
  await dataSource.initialize();
  try {
    return await runMigrations(dataSource, service);
  } finally {
    await dataSource.destroy();
  }
}
