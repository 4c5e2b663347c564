import { Controller, Get } from '@nestjs/common';
import { Auth } from '@paynet/platform';
import { LedgerVerifyService, type VerifyReport } from './ledger-verify.service.js';

@Controller('v1/ledger')
export class LedgerController {
  constructor(private readonly verifier: LedgerVerifyService) {}

  @Get('verify')
  @Auth('operator')
  verify(): Promise<VerifyReport> {
    return this.verifier.verify();
  }
}
