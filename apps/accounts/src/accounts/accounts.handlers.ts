import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type GetBalanceReply,
  type CreateLedgerAccountCommand,
  type CreateLedgerAccountReply,
  type GetBalanceRequest,
  Subjects,
  type VerifyAccountTokenReply,
  type VerifyAccountTokenRequest,
  type VerifyHolderStreamTokenReply,
  type VerifyHolderStreamTokenRequest,
} from '@paynet/contracts';
import { currency, parseInput } from '@paynet/platform';
import { z } from 'zod';
import { AccountsService } from './accounts.service.js';

const create_message = z.strictObject({
  account_id: z.string().regex(/^acct_[0-9A-Za-z]{8,64}$/),
  kind: z.literal('merchant'),
  currency,
  owner_name: z.string().min(1).max(200),
});
const token_message = z.strictObject({ token: z.string().min(1).max(200) });
const balance_message = z.strictObject({ account_id: z.string().min(1).max(128) });

@Controller()
export class AccountsHandlers {
  constructor(private readonly accounts: AccountsService) {}

  @MessagePattern(Subjects.accounts.accountsCreate)
  create(@Payload() message: CreateLedgerAccountCommand): Promise<CreateLedgerAccountReply> {
    return this.accounts.createMerchantAccount(parseInput(create_message, message) as CreateLedgerAccountCommand);
  }

  @MessagePattern(Subjects.accounts.tokensVerify)
  verifyToken(@Payload() message: VerifyAccountTokenRequest): Promise<VerifyAccountTokenReply> {
    return this.accounts.verifyToken(parseInput(token_message, message).token);
  }

  /** push only: a holder stream token is good for the stream, never as a bearer token (tokens.verify refuses it). */
  @MessagePattern(Subjects.accounts.streamTokensVerify)
  verifyStreamToken(@Payload() message: VerifyHolderStreamTokenRequest): Promise<VerifyHolderStreamTokenReply> {
    return this.accounts.verifyStreamToken(parseInput(token_message, message).token);
  }

  @MessagePattern(Subjects.accounts.balancesGet)
  async balance(@Payload() message: GetBalanceRequest): Promise<GetBalanceReply> {
    const balance = await this.accounts.balanceById(parseInput(balance_message, message).account_id);
    return { ...balance, posted: String(balance.posted), pending: String(balance.pending), available: String(balance.available) };
  }
}
