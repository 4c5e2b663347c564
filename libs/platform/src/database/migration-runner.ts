import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type BaseConfig, CONFIG } from '../config/config.js';
import { runMigrations, warmPool } from './database.js';

/** True when DATABASE_OWNER_URL migrated before the data source opened (migrateAsOwner). */
export const MIGRATED_AS_OWNER = Symbol('MIGRATED_AS_OWNER');

/**
 * Applies the service's migrations before any other module starts work
 * (immich-style, under a lock), as DATABASE_URL's role when there is no
 * owner URL: a schema already up to date is left alone (a role with DML
 * only boots after a separate `main.js migrate`). Then opens the pool's
 * first connections (warmPool).
 */
@Injectable()
export class MigrationRunner implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    @Inject('SERVICE_SCHEMA') private readonly schema: string,
    @Inject(MIGRATED_AS_OWNER) private readonly migratedAsOwner: boolean,
    @Inject(CONFIG) private readonly config: Pick<BaseConfig, 'DATABASE_POOL_MIN' | 'DATABASE_POOL_SIZE'>,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.migratedAsOwner) await runMigrations(this.dataSource, this.schema);
    // Best effort: a connection not opened now is opened when first needed.
    const count = Math.min(this.config.DATABASE_POOL_MIN, this.config.DATABASE_POOL_SIZE);
    await warmPool(this.dataSource, count).catch((error: unknown) => new Logger('Database').warn({ err: error }, 'could not open the pool connections ahead'));
  }
}
