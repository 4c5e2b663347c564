import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import { AccountsModule } from './accounts/accounts.module.js';
import type { AccountsConfig } from './config.js';
import { HoldsModule } from './holds/holds.module.js';
import { migrations } from './migrations/index.js';

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
          outbox: true,
          local_authenticators: ['holder'],
        }),
        AccountsModule,
        HoldsModule,
      ],
    };
  }
}
