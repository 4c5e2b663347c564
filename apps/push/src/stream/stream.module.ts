import { Module } from '@nestjs/common';
import { StreamAuthenticator } from './stream.authenticator.js';
import { StreamFanout } from './stream.fanout.js';
import { StreamGateway } from './stream.gateway.js';
import { StreamService } from './stream.service.js';

/** GET /v1/stream: live events over WebSocket. */
@Module({
  providers: [StreamAuthenticator, StreamService, StreamGateway, StreamFanout],
})
export class StreamModule {}
