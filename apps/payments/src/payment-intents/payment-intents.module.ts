import { Module } from '@nestjs/common';
import { RiskModule } from '../risk/risk.module.js';
import { ExpirySweeper } from './expiry.sweeper.js';
import { PaymentIntentsController } from './payment-intents.controller.js';
import { PaymentIntentsService } from './payment-intents.service.js';

@Module({
  imports: [RiskModule],
  controllers: [PaymentIntentsController],
  providers: [PaymentIntentsService, ExpirySweeper],
})
export class PaymentIntentsModule {}
