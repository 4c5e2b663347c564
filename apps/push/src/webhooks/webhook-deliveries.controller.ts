import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { ListResponse, MerchantPrincipal, WebhookDeliveryObject } from '@paynet/contracts';
import {
  ApiErrors,
  Auth,
  CurrentPrincipal,
  type IdempotencyClaim,
  IdempotencyKey,
  Idempotent,
  type Principal,
  ValidBody,
  ValidQuery,
} from '@paynet/platform';
import { WebhookDeliveriesService } from './webhook-deliveries.service.js';
import { list_deliveries_query, type ListDeliveriesQuery, redeliver_body } from './webhooks.dto.js';

@Controller('v1')
export class WebhookDeliveriesController {
  constructor(private readonly deliveries: WebhookDeliveriesService) {}

  @Get('webhook-deliveries')
  @Auth('merchant')
  list(@CurrentPrincipal() principal: Principal, @ValidQuery(list_deliveries_query) query: ListDeliveriesQuery): Promise<ListResponse<WebhookDeliveryObject>> {
    return this.deliveries.list(merchantOf(principal), query);
  }

  @Post('events/:id/redeliver')
  @HttpCode(202)
  @Auth('merchant')
  @ApiErrors(404, 429)
  @Idempotent({ required: false })
  redeliver(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @ValidBody(redeliver_body) _body: unknown,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<ListResponse<WebhookDeliveryObject>> {
    return this.deliveries.redeliver(merchantOf(principal), id, claim);
  }
}

function merchantOf(principal: Principal): MerchantPrincipal {
  if (principal.kind !== 'merchant') throw new Error('@Auth(merchant) let another principal through');
  return principal.merchant;
}
