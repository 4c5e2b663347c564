import { Module } from '@nestjs/common';
import { RefundSweeper } from './refund.sweeper.js';
import { RefundsController } from './refunds.controller.js';
import { RefundsService } from './refunds.service.js';

@Module({
  controllers: [RefundsController],
  providers: [RefundsService, RefundSweeper],
})
export class RefundsModule {}
