import { Module } from '@nestjs/common';
import { MERCHANT_AUTHENTICATOR } from '@paynet/platform';
import { CredentialsService } from '../credentials/credentials.service.js';
import { LocalMerchantAuthenticator } from '../credentials/local-merchant.authenticator.js';
import { MerchantCache } from './merchant-cache.js';
import { MerchantsController } from './merchants.controller.js';
import { MerchantsHandlers } from './merchants.handlers.js';
import { MerchantsService } from './merchants.service.js';

@Module({
  controllers: [MerchantsController, MerchantsHandlers],
  providers: [MerchantsService, MerchantCache, CredentialsService, { provide: MERCHANT_AUTHENTICATOR, useClass: LocalMerchantAuthenticator }],
})
export class MerchantsModule {}
