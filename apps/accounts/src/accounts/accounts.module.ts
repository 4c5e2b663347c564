import { Module } from '@nestjs/common';
import { CredentialCache, HOLDER_AUTHENTICATOR } from '@paynet/platform';
import { LedgerModule } from '../ledger/ledger.module.js';
import { AccountsController } from './accounts.controller.js';
import { AccountsHandlers } from './accounts.handlers.js';
import { AccountsService } from './accounts.service.js';
import { LocalHolderAuthenticator } from './local-holder.authenticator.js';
import { HolderStreamTokenSweeper } from './stream-token.sweeper.js';

@Module({
  imports: [LedgerModule],
  controllers: [AccountsController, AccountsHandlers],
  providers: [AccountsService, CredentialCache, HolderStreamTokenSweeper, { provide: HOLDER_AUTHENTICATOR, useClass: LocalHolderAuthenticator }],
  exports: [AccountsService],
})
export class AccountsModule {}
