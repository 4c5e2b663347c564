import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import type { PaymentsConfig } from './config.js';
import { migrations } from './migrations/index.js';
import { PaymentIntentsModule } from './payment-intents/payment-intents.module.js';
import { RefundsModule } from './refunds/refunds.module.js';
import { ReconcilerModule } from './reconciler/reconciler.module.js';

@Module({})
export class AppModule {
  static forConfig(config: PaymentsConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService({ service: 'payments', config, entities: [], migrations, outbox: true }),
        PaymentIntentsModule,
        RefundsModule,
        ReconcilerModule,
      ],
    };
  }
}
