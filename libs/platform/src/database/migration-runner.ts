import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { runMigrations } from './database.js';

/** Applies the service's migrations before any other module starts work (immich-style, under a lock). */
@Injectable()
export class MigrationRunner implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    @Inject('SERVICE_SCHEMA') private readonly schema: string,
  ) {}

  async onModuleInit(): Promise<void> {
    await runMigrations(this.dataSource, this.schema);
  }
}
