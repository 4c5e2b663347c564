import { Module } from '@nestjs/common';
import { LivePosition } from './live-position.js';
import { StreamAuthenticator } from './stream.authenticator.js';
import { StreamFanout } from './stream.fanout.js';
import { StreamGateway } from './stream.gateway.js';
import { StreamRevocations } from './stream.revocations.js';
import { StreamService } from './stream.service.js';

/** GET /v1/stream: live events over WebSocket. */
@Module({
  providers: [LivePosition, StreamAuthenticator, StreamService, StreamGateway, StreamFanout, StreamRevocations],
})
export class StreamModule {}
