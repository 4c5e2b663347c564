import { Module } from '@nestjs/common';
import { PaymentIntentsModule } from '../payment-intents/payment-intents.module.js';
import { RefundsModule } from '../refunds/refunds.module.js';
import { Reconciler } from './reconciler.js';

@Module({
  imports: [PaymentIntentsModule, RefundsModule],
  providers: [Reconciler],
})
export class ReconcilerModule {}
