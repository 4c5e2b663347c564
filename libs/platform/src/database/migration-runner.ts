import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { runMigrations } from './database.js';

/** True when DATABASE_OWNER_URL migrated before the data source opened (migrateAsOwner). */
export const MIGRATED_AS_OWNER = Symbol('MIGRATED_AS_OWNER');

/**
 * Applies the service's migrations before any other module starts work
 * (immich-style, under a lock), as DATABASE_URL's role when there is no
 * owner URL: a schema already up to date is left alone (a role with DML
 * only boots after a separate `main.js migrate`).
 */
@Injectable()
export class MigrationRunner implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    @Inject('SERVICE_SCHEMA') private readonly schema: string,
    @Inject(MIGRATED_AS_OWNER) private readonly migratedAsOwner: boolean,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.migratedAsOwner) return;
    await runMigrations(this.dataSource, this.schema);
  }
}
