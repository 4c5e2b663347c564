import { Module } from '@nestjs/common';
import { WebhookDeliveriesController } from './webhook-deliveries.controller.js';
import { WebhookDeliveriesService } from './webhook-deliveries.service.js';
import { WebhookDeliveryWorker } from './webhook-delivery.worker.js';
import { WebhookSender } from './webhook-sender.js';
import { MerchantEndpoints } from './merchant-endpoints.js';

/** Signed webhooks: the delivery worker and the merchant's view of its deliveries. */
@Module({
  controllers: [WebhookDeliveriesController],
  providers: [WebhookDeliveriesService, WebhookDeliveryWorker, WebhookSender, MerchantEndpoints],
  exports: [WebhookDeliveryWorker, MerchantEndpoints],
})
export class WebhooksModule {}
