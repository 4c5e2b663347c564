import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type GetHoldReply,
  type GetHoldRequest,
  type PlaceHoldCommand,
  type PlaceHoldReply,
  type PostHoldCommand,
  type PostHoldReply,
  Subjects,
  type VoidHoldCommand,
  type VoidHoldReply,
} from '@paynet/contracts';
import { parseInput } from '@paynet/platform';
import { hold_id_message, place_hold_message, post_hold_message } from './holds.messages.js';
import { HoldsService } from './holds.service.js';

@Controller()
export class HoldsHandlers {
  constructor(private readonly holds: HoldsService) {}

  @MessagePattern(Subjects.accounts.holdsPlace)
  place(@Payload() message: PlaceHoldCommand): Promise<PlaceHoldReply> {
    return this.holds.place(parseInput(place_hold_message, message));
  }

  @MessagePattern(Subjects.accounts.holdsPost)
  post(@Payload() message: PostHoldCommand): Promise<PostHoldReply> {
    return this.holds.post(parseInput(post_hold_message, message));
  }

  @MessagePattern(Subjects.accounts.holdsVoid)
  void(@Payload() message: VoidHoldCommand): Promise<VoidHoldReply> {
    return this.holds.void(parseInput(hold_id_message, message).hold_id);
  }

  @MessagePattern(Subjects.accounts.holdsGet)
  get(@Payload() message: GetHoldRequest): Promise<GetHoldReply> {
    return this.holds.get(parseInput(hold_id_message, message).hold_id);
  }
}
