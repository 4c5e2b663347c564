import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@paynet/platform';
import type { PushConfig } from './config.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { EventsModule } from './events/events.module.js';
import { migrations } from './migrations/index.js';
import { StreamModule } from './stream/stream.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  static forConfig(config: PushConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forService({
          service: 'push',
          config,
          entities: [],
          migrations,
          outbox: false,
        }),
        WebhooksModule,
        EventsModule,
        StreamModule,
        DashboardModule,
      ],
    };
  }
}
