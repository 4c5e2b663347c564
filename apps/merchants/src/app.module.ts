import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import type { MerchantsConfig } from './config.js';
import { MerchantsModule } from './merchants/merchants.module.js';
import { migrations } from './migrations/index.js';

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
          migrations,
          outbox: true,
          local_authenticators: ['merchant'],
        }),
        MerchantsModule,
      ],
    };
  }
}
