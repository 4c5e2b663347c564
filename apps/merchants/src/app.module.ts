import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import type { MerchantsConfig } from './config.js';
import { MerchantsModule } from './merchants/merchants.module.js';
import { Initial1732300000000 } from './migrations/1732300000000-initial.js';

@Module({})
export class AppModule {
  static forConfig(config: MerchantsConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService({
          service: 'merchants',
          config,
          entities: [],
          migrations: [Initial1732300000000],
          outbox: false,
          local_authenticators: ['merchant'],
        }),
        MerchantsModule,
      ],
    };
  }
}
