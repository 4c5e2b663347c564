import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { errors as natsErrors, headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { ApiError } from '@paynet/contracts';
import { currentContext } from '../observability/request-context.js';
import { correlation_header, PrefixedClientNats } from './nats-transport.js';

export const RPC_SETTINGS = Symbol('RPC_SETTINGS');

export interface RpcSettings {
  client: PrefixedClientNats;
  default_timeout_ms: number;
}

/**
 * The request was sent but no answer came in time: the outcome is unknown.
 * Commands that change money carry the caller's id, so asking again (or
 * re-sending the same command) settles it without applying it twice.
 */
export class RpcTimeoutError extends ApiError {
  constructor(readonly pattern: string) {
    super(503, 'api_error', 'service_unavailable', `No answer from ${pattern.split('.')[0]} in time; try again.`);
    this.name = 'RpcTimeoutError';
  }
}

export interface RpcOptions {
  timeout_ms?: number;
}

/** Request-reply over NATS with an explicit timeout and API errors carried across. */
@Injectable()
export class RpcClient implements OnApplicationShutdown {
  private readonly logger = new Logger(RpcClient.name);

  constructor(@Inject(RPC_SETTINGS) private readonly settings: RpcSettings) {}

  async request<TReply>(pattern: string, data: object, options: RpcOptions = {}): Promise<TReply> {
    const timeout_ms = options.timeout_ms ?? this.settings.default_timeout_ms;
    const context = currentContext();
    let headers: MsgHdrs | undefined;
    if (context) {
      headers = natsHeaders();
      headers.set(correlation_header, context.correlation_id);
    }
    try {
      return await this.settings.client.request<TReply>(pattern, data, { timeout_ms, headers });
    } catch (error) {
      throw this.toApiError(pattern, error);
    }
  }

  private toApiError(pattern: string, error: unknown): ApiError {
    if (error instanceof natsErrors.TimeoutError) return new RpcTimeoutError(pattern);
    const carried = ApiError.fromEnvelope(error);
    if (carried) return carried;
    this.logger.error({ err: error, pattern }, 'NATS request failed');
    return ApiError.unavailable(`The ${pattern.split('.')[0]} service could not be reached.`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settings.client.close();
  }
}
