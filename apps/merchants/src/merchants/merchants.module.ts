import { Module } from '@nestjs/common';
import { MERCHANT_AUTHENTICATOR } from '@paynet/platform';
import { CredentialsService } from '../credentials/credentials.service.js';
import { LocalMerchantAuthenticator } from '../credentials/local-merchant.authenticator.js';
import { NonceSweeper } from '../credentials/nonce.sweeper.js';
import { MerchantsController } from './merchants.controller.js';
import { MerchantsHandlers } from './merchants.handlers.js';
import { MerchantsService } from './merchants.service.js';
import { WebhookEndpointsModule } from '../webhook-endpoints/webhook-endpoints.module.js';

@Module({
  imports: [WebhookEndpointsModule],
  controllers: [MerchantsController, MerchantsHandlers],
  // CredentialCache comes from WebhookEndpointsModule: one instance for both kinds it keeps.
  providers: [MerchantsService, CredentialsService, NonceSweeper, { provide: MERCHANT_AUTHENTICATOR, useClass: LocalMerchantAuthenticator }],
})
export class MerchantsModule {}
