import { Inject, Injectable } from '@nestjs/common';
import { ApiError, ErrorCode, type ListResponse, type PlatformEvent } from '@paynet/contracts';
import { CONFIG } from '@paynet/platform';
import { DataSource } from 'typeorm';
import type { PushConfig } from '../config.js';
import { type EventOwner, findOwnedEvent, listOwnedEvents } from './events.repository.js';
import type { ListEventsQuery } from './events.dto.js';

/** The events API's reads: the stored event bytes, as published, for their owner only. */
@Injectable()
export class EventsReader {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CONFIG) private readonly config: PushConfig,
  ) {}

  async list(owner: EventOwner, query: ListEventsQuery): Promise<ListResponse<PlatformEvent>> {
    let before_seq: string | undefined;
    if (query.starting_after !== undefined) {
      before_seq = (await this.find(owner, query.starting_after))?.stream_seq;
      if (before_seq === undefined) throw ApiError.badRequest(ErrorCode.parameter_invalid, `No such event: '${query.starting_after}'`, 'starting_after');
    }
    const rows = await listOwnedEvents(this.dataSource.manager, owner, { type: query.type, before_seq, limit: query.limit + 1 });
    return { object: 'list', data: rows.slice(0, query.limit).map((row) => parseStored(row.payload)), has_more: rows.length > query.limit };
  }

  async retrieve(owner: EventOwner, id: string): Promise<PlatformEvent> {
    const row = await this.find(owner, id);
    if (row === undefined) throw ApiError.notFound('event', id);
    return parseStored(row.payload);
  }

  private find(owner: EventOwner, id: string) {
    return findOwnedEvent(this.dataSource.manager, owner, id, this.config.EVENT_RETENTION_DAYS);
  }
}

/** Stored only after parsing as an event (received-event.ts). */
function parseStored(payload: string): PlatformEvent {
  return JSON.parse(payload) as PlatformEvent;
}
