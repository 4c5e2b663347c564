import { Module } from '@nestjs/common';
import { HoldsHandlers } from './holds.handlers.js';
import { HoldsService } from './holds.service.js';
import { HoldSweeper } from './holds.sweeper.js';

/** Two-phase holds: place, post (with an optional fee), void, get, and the expiry sweeper. */
@Module({
  controllers: [HoldsHandlers],
  providers: [HoldsService, HoldSweeper],
  exports: [HoldsService],
})
export class HoldsModule {}
