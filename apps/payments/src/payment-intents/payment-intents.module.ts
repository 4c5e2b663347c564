import { Module } from '@nestjs/common';
import { ExpirySweeper } from './expiry.sweeper.js';
import { PaymentIntentsController } from './payment-intents.controller.js';
import { PaymentIntentsService } from './payment-intents.service.js';
import { PaymentOutcomes } from './payment-outcomes.js';

@Module({
  controllers: [PaymentIntentsController],
  providers: [PaymentIntentsService, PaymentOutcomes, ExpirySweeper],
  exports: [PaymentOutcomes],
})
export class PaymentIntentsModule {}
