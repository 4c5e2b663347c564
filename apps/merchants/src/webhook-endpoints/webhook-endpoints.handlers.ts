import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type DisableWebhookEndpointReply,
  type SignWebhookReply,
  Subjects,
  type WebhookEndpointStatesReply,
  type WebhookEndpointsForEventReply,
} from '@paynet/contracts';
import { parseInput } from '@paynet/platform';
import { z } from 'zod';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';

const merchant_id = z.string().min(1).max(128);
const endpoint_id = z.string().min(1).max(128);
const sign_message = z.strictObject({
  merchant_id,
  endpoint_id: endpoint_id.optional(),
  msg_id: z.string().min(1).max(128),
  timestamp: z.number().int().positive(),
  payload: z.string().max(1_000_000),
});
const for_event_message = z.strictObject({ merchant_id, type: z.string().min(1).max(128) });
const states_message = z.strictObject({ merchant_id, endpoint_ids: z.array(endpoint_id).max(1_000) });
const disable_message = z.strictObject({ merchant_id, endpoint_id, reason: z.enum(['gone', 'failing']) });

/** What push asks about endpoints; the secrets stay here, only signatures leave. */
@Controller()
export class WebhookEndpointsHandlers {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @MessagePattern(Subjects.merchants.webhooksSign)
  sign(@Payload() message: unknown): Promise<SignWebhookReply> {
    return this.endpoints.sign(parseInput(sign_message, message));
  }

  @MessagePattern(Subjects.merchants.webhookEndpointsForEvent)
  forEvent(@Payload() message: unknown): Promise<WebhookEndpointsForEventReply> {
    return this.endpoints.forEvent(parseInput(for_event_message, message));
  }

  @MessagePattern(Subjects.merchants.webhookEndpointsStates)
  states(@Payload() message: unknown): Promise<WebhookEndpointStatesReply> {
    return this.endpoints.states(parseInput(states_message, message));
  }

  @MessagePattern(Subjects.merchants.webhookEndpointsDisable)
  disable(@Payload() message: unknown): Promise<DisableWebhookEndpointReply> {
    return this.endpoints.disable(parseInput(disable_message, message));
  }
}
