import { Module } from '@nestjs/common';
import { LedgerVerifyService } from './ledger-verify.service.js';
import { LedgerController } from './ledger.controller.js';
import { LedgerHandlers } from './ledger.handlers.js';
import { LedgerService } from './ledger.service.js';

@Module({
  controllers: [LedgerController, LedgerHandlers],
  providers: [LedgerService, LedgerVerifyService],
  exports: [LedgerService],
})
export class LedgerModule {}
