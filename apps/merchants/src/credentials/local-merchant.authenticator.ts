import { Injectable } from '@nestjs/common';
import type { AuthenticateReply } from '@paynet/contracts';
import { type AuthenticatedRequest, type MerchantAuthenticator, signedRequestOf } from '@paynet/platform';
import { MerchantsService } from '../merchants/merchants.service.js';
import { CredentialsService } from './credentials.service.js';

/** merchants holds the API secrets, so it checks its own requests' signatures directly. */
@Injectable()
export class LocalMerchantAuthenticator implements MerchantAuthenticator {
  constructor(
    private readonly credentials: CredentialsService,
    private readonly merchants: MerchantsService,
  ) {}

  async authenticate(request: AuthenticatedRequest): Promise<AuthenticateReply> {
    const signed = await this.credentials.authenticate(signedRequestOf(request));
    return { ...(await this.merchants.principal(signed.merchant_id)), api_key: signed.api_key };
  }
}
