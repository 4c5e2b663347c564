import { Module } from '@nestjs/common';
import { ExpirySweeper } from './expiry.sweeper.js';
import { PaymentIntentsController } from './payment-intents.controller.js';
import { PaymentIntentsService } from './payment-intents.service.js';

@Module({
  controllers: [PaymentIntentsController],
  providers: [PaymentIntentsService, ExpirySweeper],
})
export class PaymentIntentsModule {}
