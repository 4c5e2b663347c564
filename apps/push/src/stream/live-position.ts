import { Injectable } from '@nestjs/common';

/**
 * Where this replica's live fan-out stands: every event with a stream
 * sequence at or above `next_seq` is still to be fanned out, so a connection
 * registered now gets it live. A resume replays from the database what lies
 * below that point.
 */
@Injectable()
export class LivePosition {
  next_seq = 1;
}
