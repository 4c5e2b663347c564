import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { type GetTransferReply, type GetTransferRequest, type PostTransferCommand, Subjects, type TransferReply } from '@paynet/contracts';
import { parseInput } from '@paynet/platform';
import { get_transfer_message, post_transfer_message } from './ledger.messages.js';
import { LedgerService } from './ledger.service.js';
import { TransferBatcher } from './transfer-batcher.js';

@Controller()
export class LedgerHandlers {
  constructor(
    private readonly ledger: LedgerService,
    private readonly batcher: TransferBatcher,
  ) {}

  @MessagePattern(Subjects.accounts.transfersPost)
  post(@Payload() message: PostTransferCommand): Promise<TransferReply> {
    return this.batcher.submit(parseInput(post_transfer_message, message));
  }

  @MessagePattern(Subjects.accounts.transfersGet)
  get(@Payload() message: GetTransferRequest): Promise<GetTransferReply> {
    return this.ledger.getTransfer(parseInput(get_transfer_message, message).transfer_id);
  }
}
