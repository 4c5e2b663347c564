import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import { AccountsModule } from './accounts/accounts.module.js';
import type { AccountsConfig } from './config.js';
import { HoldsModule } from './holds/holds.module.js';
import { append_only_tables, migrations } from './migrations/index.js';

@Module({})
export class AppModule {
  static forConfig(config: AccountsConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService({
          service: 'accounts',
          config,
          entities: [],
          migrations,
          append_only_tables,
          outbox: true,
          local_authenticators: ['holder'],
        }),
        AccountsModule,
        HoldsModule,
      ],
    };
  }
}
