import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import type { RefundObject } from '@paynet/contracts';
import { ApiErrors, Auth, CurrentPrincipal, Idempotent, IdempotencyKey, type IdempotencyClaim, type Principal, ValidBody } from '@paynet/platform';
import { create_refund_body, type CreateRefundBody } from './refunds.dto.js';
import { RefundsService } from './refunds.service.js';

@Controller('v1/payment-intents')
export class RefundsController {
  constructor(private readonly refunds: RefundsService) {}

  @Post(':id/refunds')
  @HttpCode(201)
  @Auth('merchant')
  @Idempotent({ required: true })
  @ApiErrors(402, 404, 409)
  create(
    @CurrentPrincipal() principal: Extract<Principal, { kind: 'merchant' }>,
    @Param('id') id: string,
    @ValidBody(create_refund_body) body: CreateRefundBody,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<RefundObject> {
    return this.refunds.create(principal, id, body, claim);
  }
}
