import { Module } from '@nestjs/common';
import { RiskService } from './risk.service.js';
import { RiskSweeper } from './risk.sweeper.js';
import { RiskVerifier } from './risk-verifier.js';

/** Risk rules for pay attempts: limits, velocity in PostgreSQL, the optional external verifier. */
@Module({
  providers: [RiskService, RiskVerifier, RiskSweeper],
  exports: [RiskService],
})
export class RiskModule {}
