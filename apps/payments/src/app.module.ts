import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import type { PaymentsConfig } from './config.js';
import { Initial1732300000000 } from './migrations/1732300000000-initial.js';
import { PaymentIntentsModule } from './payment-intents/payment-intents.module.js';

@Module({})
export class AppModule {
  static forConfig(config: PaymentsConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService({ service: 'payments', config, entities: [], migrations: [Initial1732300000000], outbox: true }),
        PaymentIntentsModule,
      ],
    };
  }
}
