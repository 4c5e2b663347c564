import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { type GetTransferReply, type GetTransferRequest, Subjects } from '@paynet/contracts';
import { parseInput } from '@paynet/platform';
import { get_transfer_message } from './ledger.messages.js';
import { LedgerService } from './ledger.service.js';

/** Ledger queries over NATS; `accounts.transfers.post`, the hot path, is TransferCommandListener's. */
@Controller()
export class LedgerHandlers {
  constructor(private readonly ledger: LedgerService) {}

  @MessagePattern(Subjects.accounts.transfersGet)
  get(@Payload() message: GetTransferRequest): Promise<GetTransferReply> {
    return this.ledger.getTransfer(parseInput(get_transfer_message, message).transfer_id);
  }
}
