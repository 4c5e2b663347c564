import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { ListResponse, PaymentIntentObject } from '@paynet/contracts';
import { ApiErrors, Auth, CurrentPrincipal, Idempotent, IdempotencyKey, type IdempotencyClaim, type Principal, ValidBody, ValidQuery } from '@paynet/platform';
import type { z } from 'zod';
import { CaptureService } from './capture.service.js';
import {
  cancel_body,
  capture_body,
  create_payment_intent_body,
  type CreatePaymentIntentBody,
  list_payment_intents_query,
  pay_body,
} from './payment-intents.dto.js';
import { PaymentIntentsService } from './payment-intents.service.js';

type Merchant = Extract<Principal, { kind: 'merchant' }>;
type Holder = Extract<Principal, { kind: 'holder' }>;

@Controller('v1/payment-intents')
export class PaymentIntentsController {
  constructor(
    private readonly intents: PaymentIntentsService,
    private readonly captures: CaptureService,
  ) {}

  @Post()
  @HttpCode(201)
  @Auth('merchant')
  @Idempotent({ required: true, in_request: true })
  create(
    @CurrentPrincipal() principal: Merchant,
    @ValidBody(create_payment_intent_body) body: CreatePaymentIntentBody,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<PaymentIntentObject> {
    return this.intents.create(principal, body, claim);
  }

  @Get()
  @Auth('merchant')
  list(
    @CurrentPrincipal() principal: Merchant,
    @ValidQuery(list_payment_intents_query) query: z.infer<typeof list_payment_intents_query>,
  ): Promise<ListResponse<PaymentIntentObject>> {
    return this.intents.list(principal, query);
  }

  @Get(':id')
  @Auth('merchant', 'holder', 'operator')
  @ApiErrors(404)
  retrieve(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<PaymentIntentObject> {
    return this.intents.retrieve(principal, id);
  }

  @Post(':id/pay')
  @HttpCode(200)
  @Auth('holder')
  @Idempotent({ required: true, in_request: true })
  @ApiErrors(402, 404, 409)
  pay(
    @CurrentPrincipal() principal: Holder,
    @Param('id') id: string,
    @ValidBody(pay_body) body: z.infer<typeof pay_body>,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<PaymentIntentObject> {
    return this.intents.pay(principal, id, body.account, claim);
  }

  @Post(':id/capture')
  @HttpCode(200)
  @Auth('merchant')
  @Idempotent({ required: true })
  @ApiErrors(404, 409)
  capture(
    @CurrentPrincipal() principal: Merchant,
    @Param('id') id: string,
    @ValidBody(capture_body) body: z.infer<typeof capture_body>,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<PaymentIntentObject> {
    return this.captures.capture(principal, id, body.amount, claim);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @Auth('merchant')
  @Idempotent({ required: false })
  @ApiErrors(404, 409)
  cancel(
    @CurrentPrincipal() principal: Merchant,
    @Param('id') id: string,
    @ValidBody(cancel_body) _body: z.infer<typeof cancel_body>,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<PaymentIntentObject> {
    return this.captures.cancel(principal, id, claim);
  }
}
