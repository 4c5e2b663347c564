import { Module } from '@nestjs/common';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { EventsConsumer } from './events.consumer.js';
import { EventsService } from './events.service.js';

/** The durable consumer: every event recorded once, with its webhook delivery. */
@Module({
  imports: [WebhooksModule],
  providers: [EventsService, EventsConsumer],
})
export class EventsModule {}
