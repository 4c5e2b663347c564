import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller.js';

/** GET /dashboard: the merchant's orders, live. */
@Module({ controllers: [DashboardController] })
export class DashboardModule {}
