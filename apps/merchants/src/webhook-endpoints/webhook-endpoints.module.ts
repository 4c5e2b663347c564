import { Module } from '@nestjs/common';
import { CredentialCache } from '@paynet/platform';
import { MerchantCache } from '../merchants/merchant-cache.js';
import { WebhookEndpointsController } from './webhook-endpoints.controller.js';
import { WebhookEndpointsHandlers } from './webhook-endpoints.handlers.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';

/** A merchant's webhook endpoints, and what push asks of them over NATS. */
@Module({
  controllers: [WebhookEndpointsController, WebhookEndpointsHandlers],
  // The merchant cache lives here: an endpoint change is a merchant change (its webhook_url is the first endpoint's).
  // So does the credential cache, one per replica (one lease, one subscription): it keeps API keys
  // (CredentialsService) and, as a kind of its own, webhook signing keys.
  providers: [WebhookEndpointsService, MerchantCache, CredentialCache],
  exports: [WebhookEndpointsService, MerchantCache, CredentialCache],
})
export class WebhookEndpointsModule {}
