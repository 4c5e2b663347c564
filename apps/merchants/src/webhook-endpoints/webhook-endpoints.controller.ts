import { Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { ListResponse, WebhookEndpointObject } from '@paynet/contracts';
import {
  ApiErrors,
  Auth,
  CurrentPrincipal,
  type IdempotencyClaim,
  IdempotencyKey,
  Idempotent,
  list_query,
  ManagesCredentials,
  type Principal,
  ValidBody,
  ValidQuery,
} from '@paynet/platform';
import type { z } from 'zod';
import { create_endpoint_body, type CreateEndpointBody, rotate_secret_body, update_endpoint_body, type UpdateEndpointBody } from './webhook-endpoints.dto.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';

/** API.md, merchants: webhook endpoints. Every route is the merchant's own; another's endpoint is 404. */
@Controller('v1/webhook-endpoints')
export class WebhookEndpointsController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @Post()
  @HttpCode(201)
  @Auth('merchant')
  @ManagesCredentials()
  @Idempotent({ required: false })
  create(
    @CurrentPrincipal() principal: Principal,
    @ValidBody(create_endpoint_body) body: CreateEndpointBody,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<WebhookEndpointObject> {
    return this.endpoints.create(merchantIdOf(principal), body, claim);
  }

  @Get()
  @Auth('merchant')
  list(@CurrentPrincipal() principal: Principal, @ValidQuery(list_query) query: z.infer<typeof list_query>): Promise<ListResponse<WebhookEndpointObject>> {
    return this.endpoints.list(merchantIdOf(principal), query);
  }

  @Get(':id')
  @Auth('merchant')
  @ApiErrors(404)
  retrieve(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<WebhookEndpointObject> {
    return this.endpoints.retrieve(merchantIdOf(principal), id);
  }

  @Post(':id')
  @HttpCode(200)
  @Auth('merchant')
  @ManagesCredentials()
  @ApiErrors(404)
  update(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @ValidBody(update_endpoint_body) body: UpdateEndpointBody): Promise<WebhookEndpointObject> {
    return this.endpoints.update(merchantIdOf(principal), id, body);
  }

  @Delete(':id')
  @Auth('merchant')
  @ManagesCredentials()
  @ApiErrors(404)
  remove(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<{ id: string; object: 'webhook_endpoint'; deleted: true }> {
    return this.endpoints.remove(merchantIdOf(principal), id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @Auth('merchant')
  @ManagesCredentials()
  @ApiErrors(404)
  rotateSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @ValidBody(rotate_secret_body) body: z.infer<typeof rotate_secret_body>,
  ): Promise<WebhookEndpointObject> {
    return this.endpoints.rotateSecret(merchantIdOf(principal), id, body.grace_seconds);
  }
}

function merchantIdOf(principal: Principal): string {
  if (principal.kind !== 'merchant') throw new Error('@Auth(merchant) let another principal through');
  return principal.merchant.merchant_id;
}
