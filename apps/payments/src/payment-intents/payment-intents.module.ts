import { Module } from '@nestjs/common';
import { RiskModule } from '../risk/risk.module.js';
import { CaptureService } from './capture.service.js';
import { ExpirySweeper } from './expiry.sweeper.js';
import { HoldExpirySweeper } from './hold-expiry.sweeper.js';
import { PaymentIntentsController } from './payment-intents.controller.js';
import { PaymentIntentsService } from './payment-intents.service.js';
import { PaymentOutcomes } from './payment-outcomes.js';

@Module({
  imports: [RiskModule],
  controllers: [PaymentIntentsController],
  providers: [PaymentIntentsService, PaymentOutcomes, CaptureService, ExpirySweeper, HoldExpirySweeper],
  exports: [PaymentOutcomes, CaptureService],
})
export class PaymentIntentsModule {}
