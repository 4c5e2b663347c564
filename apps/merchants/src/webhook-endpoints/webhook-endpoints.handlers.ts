import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  type DisableWebhookEndpointReply,
  type EnabledWebhookEndpointsReply,
  type SignWebhooksReply,
  Subjects,
  type WebhookEndpointStatesReply,
} from '@paynet/contracts';
import { parseInput } from '@paynet/platform';
import { z } from 'zod';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';

const merchant_id = z.string().min(1).max(128);
const endpoint_id = z.string().min(1).max(128);
/** Webhooks signed by one request; push sends what one claim took (and keeps the message under NATS's payload limit). */
export const sign_webhooks_max = 256;
const sign_message = z.strictObject({
  webhooks: z
    .array(
      z.strictObject({
        merchant_id,
        endpoint_id: endpoint_id.optional(),
        msg_id: z.string().min(1).max(128),
        timestamp: z.number().int().positive(),
        payload: z.string().max(1_000_000),
      }),
    )
    .min(1)
    .max(sign_webhooks_max),
});
/** Merchants whose endpoints one request may ask for. */
export const enabled_endpoints_merchants_max = 1_000;
const enabled_message = z.strictObject({ merchant_ids: z.array(merchant_id).min(1).max(enabled_endpoints_merchants_max) });
const states_message = z.strictObject({ merchant_id, endpoint_ids: z.array(endpoint_id).max(1_000) });
const disable_message = z.strictObject({ merchant_id, endpoint_id, reason: z.enum(['gone', 'failing']) });

/** What push asks about endpoints; the secrets stay here, only signatures leave. */
@Controller()
export class WebhookEndpointsHandlers {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @MessagePattern(Subjects.merchants.webhooksSign)
  sign(@Payload() message: unknown): Promise<SignWebhooksReply> {
    return this.endpoints.sign(parseInput(sign_message, message));
  }

  @MessagePattern(Subjects.merchants.webhookEndpointsEnabled)
  enabled(@Payload() message: unknown): Promise<EnabledWebhookEndpointsReply> {
    return this.endpoints.enabled(parseInput(enabled_message, message));
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
