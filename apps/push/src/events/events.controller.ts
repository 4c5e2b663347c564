import { Controller, Get, Param } from '@nestjs/common';
import type { ListResponse, PlatformEvent } from '@paynet/contracts';
import { ApiErrors, Auth, CurrentPrincipal, type Principal, ValidQuery } from '@paynet/platform';
import type { EventOwner } from './events.repository.js';
import { list_events_query, type ListEventsQuery } from './events.dto.js';
import { EventsReader } from './events.reader.js';

/** API.md, Events: a merchant reads its events, a holder its account's; another's answers 404. */
@Controller('v1/events')
export class EventsController {
  constructor(private readonly events: EventsReader) {}

  @Get()
  @Auth('merchant', 'holder')
  list(@CurrentPrincipal() principal: Principal, @ValidQuery(list_events_query) query: ListEventsQuery): Promise<ListResponse<PlatformEvent>> {
    return this.events.list(ownerOf(principal), query);
  }

  @Get(':id')
  @Auth('merchant', 'holder')
  @ApiErrors(404)
  retrieve(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<PlatformEvent> {
    return this.events.retrieve(ownerOf(principal), id);
  }
}

function ownerOf(principal: Principal): EventOwner {
  if (principal.kind === 'merchant') return { kind: 'merchant', merchant_id: principal.merchant.merchant_id };
  if (principal.kind === 'holder') return { kind: 'holder', account_id: principal.account_id };
  throw new Error('@Auth(merchant, holder) let another principal through');
}
