import { Module } from '@nestjs/common';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { EventsConsumer } from './events.consumer.js';
import { EventsController } from './events.controller.js';
import { EventsReader } from './events.reader.js';
import { EventsSweeper } from './events.sweeper.js';
import { EventsService } from './events.service.js';

/** The durable consumer (every event recorded once, with its webhook delivery), the events API, and retention. */
@Module({
  imports: [WebhooksModule],
  controllers: [EventsController],
  providers: [EventsService, EventsConsumer, EventsReader, EventsSweeper],
})
export class EventsModule {}
