import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type AuthenticateReply,
  type AuthenticateRequest,
  type GetMerchantReply,
  type GetMerchantRequest,
  Subjects,
  type VerifyStreamTokenReply,
  type VerifyStreamTokenRequest,
} from '@paynet/contracts';
import { parseInput } from '@paynet/platform';
import { z } from 'zod';
import { CredentialsService } from '../credentials/credentials.service.js';
import { MerchantsService } from './merchants.service.js';

const header = z.string().max(4_096).optional();
const authenticate_message = z.strictObject({
  api_key: header,
  timestamp: header,
  nonce: header,
  signature: header,
  method: z.string().min(1).max(16),
  path_with_query: z.string().min(1).max(8_192),
  body_base64: z.string().max(2_000_000),
});
const merchant_message = z.strictObject({ merchant_id: z.string().min(1).max(128) });
const token_message = z.strictObject({ token: z.string().min(1).max(200) });

@Controller()
export class MerchantsHandlers {
  constructor(
    private readonly merchants: MerchantsService,
    private readonly credentials: CredentialsService,
  ) {}

  @MessagePattern(Subjects.merchants.requestsAuthenticate)
  async authenticate(@Payload() message: AuthenticateRequest): Promise<AuthenticateReply> {
    const signed = await this.credentials.authenticate(parseInput(authenticate_message, message));
    return { ...(await this.merchants.principal(signed.merchant_id)), api_key: signed.api_key };
  }

  @MessagePattern(Subjects.merchants.merchantsGet)
  get(@Payload() message: GetMerchantRequest): Promise<GetMerchantReply> {
    return this.merchants.principal(parseInput(merchant_message, message).merchant_id);
  }

  @MessagePattern(Subjects.merchants.streamTokensVerify)
  verifyStreamToken(@Payload() message: VerifyStreamTokenRequest): Promise<VerifyStreamTokenReply> {
    return this.credentials.verifyStreamToken(parseInput(token_message, message).token);
  }
}
