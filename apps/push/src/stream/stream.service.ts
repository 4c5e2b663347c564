import { Injectable } from '@nestjs/common';
import { ErrorCode } from '@paynet/contracts';
import { DataSource } from 'typeorm';
import { findEvent } from '../events/events.repository.js';
import type { StreamPrincipal } from './connection-registry.js';
import { errorFrame, parseClientMessage } from './stream.frames.js';

/** What the stream answers to a client's message; WebSocket plumbing stays in the gateway. */
@Injectable()
export class StreamService {
  constructor(private readonly dataSource: DataSource) {}

  /** Frames to send back for one client message. */
  async answer(principal: StreamPrincipal, text: string): Promise<string[]> {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) return [parsed.frame];
    const after = await findEvent(this.dataSource.manager, parsed.message.after);
    const visible =
      after !== undefined &&
      (principal.kind === 'merchant' ? after.merchant_id === principal.merchant_id : after.account_id === principal.account_id);
    if (!visible) return [errorFrame(ErrorCode.resource_missing, `No such event: '${parsed.message.after}'`)];
    // TODO(resume): replay this principal's events with stream_seq > after.stream_seq, in order, then
    // switch to live with no gap and no duplicate (buffer live frames during the replay; skip seqs
    // already sent). events_by_merchant / events_by_account index (principal, stream_seq) for it.
    // Until then a known id is accepted and the connection simply stays live.
    return [];
  }
}
