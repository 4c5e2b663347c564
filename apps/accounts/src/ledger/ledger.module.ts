import { Module } from '@nestjs/common';
import { LedgerVerifyService } from './ledger-verify.service.js';
import { LedgerController } from './ledger.controller.js';
import { LedgerHandlers } from './ledger.handlers.js';
import { LedgerService } from './ledger.service.js';
import { TransferBatcher } from './transfer-batcher.js';
import { TransferCommandListener } from './transfer-command.listener.js';

@Module({
  controllers: [LedgerController, LedgerHandlers],
  providers: [LedgerService, LedgerVerifyService, TransferBatcher, TransferCommandListener],
  exports: [LedgerService, TransferBatcher],
})
export class LedgerModule {}
