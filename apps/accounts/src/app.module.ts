import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import { AccountsModule } from './accounts/accounts.module.js';
import type { AccountsConfig } from './config.js';
import { Initial1732300000000 } from './migrations/1732300000000-initial.js';

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
          migrations: [Initial1732300000000],
          outbox: false,
          local_authenticators: ['holder'],
        }),
        AccountsModule,
      ],
    };
  }
}
