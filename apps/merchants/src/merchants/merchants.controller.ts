import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { BalanceObject, JsonInteger, MerchantObject, StreamTokenObject } from '@paynet/contracts';
import { ApiErrors, Auth, CurrentPrincipal, Idempotent, IdempotencyKey, type IdempotencyClaim, ManagesCredentials, type Principal, ValidBody } from '@paynet/platform';
import type { z } from 'zod';
import { create_merchant_body, type CreateMerchantBody, rotate_body, webhook_endpoint_body } from './merchants.dto.js';
import { MerchantsService } from './merchants.service.js';

@Controller('v1/merchants')
export class MerchantsController {
  constructor(private readonly merchants: MerchantsService) {}

  @Post()
  @HttpCode(201)
  @Auth('operator')
  @Idempotent({ required: false })
  create(@ValidBody(create_merchant_body) body: CreateMerchantBody, @IdempotencyKey() claim?: IdempotencyClaim): Promise<MerchantObject> {
    return this.merchants.create(body, claim);
  }

  @Get(':id')
  @Auth('merchant', 'operator')
  @ApiErrors(404)
  retrieve(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<MerchantObject> {
    return this.merchants.retrieve(principal, id);
  }

  @Get(':id/balance')
  @Auth('merchant', 'operator')
  @ApiErrors(404)
  balance(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<BalanceObject<JsonInteger>> {
    return this.merchants.balance(principal, id);
  }

  @Post(':id/webhook-endpoint')
  @HttpCode(200)
  @Auth('merchant')
  @ManagesCredentials()
  @ApiErrors(404)
  webhookEndpoint(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @ValidBody(webhook_endpoint_body) body: z.infer<typeof webhook_endpoint_body>,
  ): Promise<MerchantObject> {
    return this.merchants.setWebhookUrl(principal, id, body.url);
  }

  @Post(':id/api-keys/rotate')
  @HttpCode(200)
  @Auth('merchant')
  @ManagesCredentials()
  @ApiErrors(404)
  rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @ValidBody(rotate_body) body: z.infer<typeof rotate_body>,
  ): Promise<MerchantObject> {
    return this.merchants.rotateKey(principal, id, body.grace_seconds);
  }

  @Post(':id/stream-tokens')
  @HttpCode(201)
  @Auth('merchant')
  @ApiErrors(404)
  streamToken(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<StreamTokenObject> {
    return this.merchants.streamToken(principal, id);
  }
}
