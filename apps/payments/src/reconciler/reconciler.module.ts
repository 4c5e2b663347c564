import { Module } from '@nestjs/common';
import { PaymentIntentsModule } from '../payment-intents/payment-intents.module.js';
import { Reconciler } from './reconciler.js';

@Module({
  imports: [PaymentIntentsModule],
  providers: [Reconciler],
})
export class ReconcilerModule {}
