/**
 * The accounts.transfers.post command over NATS, spoken the way every
 * service's client speaks it (Nest's NATS wire format, as PrefixedClientNats
 * sends it): request `{ pattern, data, id }` on `<prefix>.<pattern>`, reply
 * `{ id, response }` or `{ id, err }`. Written here rather than borrowed
 * from libs/platform because tooling may not depend on the platform layer.
 */
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { ApiError, natsNames, Subjects, type PostTransferCommand, type TransferReply } from '@paynet/contracts';
import type { Outcome } from './load.js';

/** Generous against a loaded 2-core machine: a timeout is an error in the report, never a silent retry. */
export const transfer_timeout_ms = 10_000;
const connect_timeout_ms = 5_000;
const error_text_max = 120;
const cause_depth_max = 8;

export class TransferClient {
  private request_count = 0;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly subject: string,
  ) {}

  static async connect(url: string, prefix: string): Promise<TransferClient> {
    // No reconnects: a NATS that goes away mid-run should fail the run, not blur its figures.
    const connection = await connect({ servers: url, name: 'bench-ledger', timeout: connect_timeout_ms, reconnect: false });
    return new TransferClient(connection, natsNames(prefix).request(Subjects.accounts.transfersPost));
  }

  /** The NATS server's version, from its INFO. */
  get serverVersion(): string {
    return this.connection.info?.version ?? 'unknown';
  }

  /** Sends one command and waits for its answer; never throws. */
  async post(command: PostTransferCommand): Promise<Outcome> {
    this.request_count += 1;
    const packet = { pattern: Subjects.accounts.transfersPost, data: command, id: `bench-${this.request_count}` };
    try {
      const reply = await this.connection.request(this.subject, JSON.stringify(packet), { timeout: transfer_timeout_ms });
      return decodeReply(reply.string(), command.transfer_id);
    } catch (error) {
      return requestFailure(error);
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** What one reply says about the transfer `transfer_id`. */
export function decodeReply(text: string, transfer_id: string): Outcome {
  let message: { err?: unknown; response?: Partial<TransferReply> };
  try {
    message = JSON.parse(text) as typeof message;
  } catch {
    return { ok: false, kind: 'unreadable reply', applied: 'maybe' };
  }
  if (message.err !== undefined && message.err !== null) return { ok: false, kind: describeReplyError(message.err), applied: 'no' };
  const response = message.response;
  if (!response || response.transfer_id !== transfer_id) return { ok: false, kind: 'reply without this transfer', applied: 'maybe' };
  // Every id is fresh: "already applied" would mean a collision or a replayed answer.
  if (response.result === 'already_applied') return { ok: false, kind: 'already_applied for a fresh transfer id', applied: 'maybe' };
  if (response.result !== 'applied') return { ok: false, kind: `unexpected result ${String(response.result)}`, applied: 'maybe' };
  return { ok: true };
}

/** `402 insufficient_funds`, from the API error envelope a handler's exception filter sends. */
export function describeReplyError(err: unknown): string {
  const api = ApiError.fromEnvelope(err);
  if (api) return `${api.status} ${api.code}`;
  const text = typeof err === 'string' ? err : JSON.stringify(err);
  return `error: ${text.slice(0, error_text_max)}`;
}

function requestFailure(error: unknown): Outcome {
  const chain = causes(error);
  if (chain.some((item) => item instanceof errors.TimeoutError)) {
    return { ok: false, kind: `no answer within ${transfer_timeout_ms} ms (outcome unknown)`, applied: 'maybe' };
  }
  if (chain.some((item) => item instanceof errors.NoRespondersError)) return { ok: false, kind: 'no responders (accounts is not listening)', applied: 'no' };
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, kind: `nats: ${message.slice(0, error_text_max)}`, applied: 'maybe' };
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = error;
  for (let depth = 0; depth < cause_depth_max && current !== undefined; depth++) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}
