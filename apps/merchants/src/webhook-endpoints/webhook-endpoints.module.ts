import { Module } from '@nestjs/common';
import { WebhookEndpointsController } from './webhook-endpoints.controller.js';
import { WebhookEndpointsHandlers } from './webhook-endpoints.handlers.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';

/** A merchant's webhook endpoints, and what push asks of them over NATS. */
@Module({
  controllers: [WebhookEndpointsController, WebhookEndpointsHandlers],
  providers: [WebhookEndpointsService],
  exports: [WebhookEndpointsService],
})
export class WebhookEndpointsModule {}
