import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import type { AccountObject, BalanceObject, JsonInteger, ListResponse, StatementLineObject, StreamTokenObject } from '@paynet/contracts';
import { ApiErrors, Auth, CONFIG, CurrentPrincipal, Idempotent, IdempotencyKey, type IdempotencyClaim, list_query, type Principal, ValidBody, ValidQuery } from '@paynet/platform';
import type { z } from 'zod';
import type { AccountsConfig } from '../config.js';
import { create_account_body, deposit_body, empty_body } from './accounts.dto.js';
import { AccountsService } from './accounts.service.js';

@Controller('v1/accounts')
export class AccountsController {
  constructor(
    private readonly accounts: AccountsService,
    @Inject(CONFIG) private readonly config: AccountsConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @Auth('operator')
  @Idempotent({ required: false })
  create(@ValidBody(create_account_body) body: z.infer<typeof create_account_body>, @IdempotencyKey() claim?: IdempotencyClaim): Promise<AccountObject<JsonInteger>> {
    return this.accounts.createWallet(body, claim);
  }

  @Get(':id')
  @Auth('operator', 'holder')
  @ApiErrors(404)
  retrieve(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<AccountObject<JsonInteger>> {
    return this.accounts.retrieve(principal, id);
  }

  @Get(':id/balance')
  @Auth('operator', 'holder')
  @ApiErrors(404)
  balance(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<BalanceObject<JsonInteger>> {
    return this.accounts.balance(principal, id);
  }

  @Get(':id/transactions')
  @Auth('operator', 'holder')
  @ApiErrors(404)
  transactions(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @ValidQuery(list_query) page: z.infer<typeof list_query>,
  ): Promise<ListResponse<StatementLineObject<JsonInteger>>> {
    return this.accounts.transactions(principal, id, page);
  }

  @Post(':id/deposits')
  @HttpCode(201)
  @Auth('operator')
  @ApiErrors(404)
  @Idempotent({ required: true })
  deposit(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @ValidBody(deposit_body) body: z.infer<typeof deposit_body>,
    @IdempotencyKey() claim?: IdempotencyClaim,
  ): Promise<StatementLineObject<JsonInteger>> {
    return this.accounts.deposit(principal, id, body.amount, claim);
  }

  @Post(':id/token/rotate')
  @HttpCode(200)
  @Auth('operator', 'holder')
  @ApiErrors(404)
  rotateToken(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @ValidBody(empty_body) _body: z.infer<typeof empty_body>): Promise<{ token: string }> {
    return this.accounts.rotateToken(principal, id);
  }

  @Post(':id/stream-tokens')
  @HttpCode(201)
  @Auth('holder')
  @ApiErrors(404)
  streamToken(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @ValidBody(empty_body) _body: z.infer<typeof empty_body>): Promise<StreamTokenObject> {
    return this.accounts.issueStreamToken(principal, id, this.config.STREAM_TOKEN_TTL_SECONDS);
  }
}
