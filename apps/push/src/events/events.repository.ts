import type { EntityManager } from 'typeorm';
import type { ReceivedEvent } from './received-event.js';

/** SQL for push's copy of the events. */

export interface EventRow {
  id: string;
  type: string;
  merchant_id: string | null;
  account_id: string | null;
  stream_seq: string;
}

/** Stores the event unless it is there already (deduped by id); answers whether it was new. */
export async function insertEvent(manager: EntityManager, received: ReceivedEvent): Promise<boolean> {
  const { event } = received;
  const rows: unknown[] = await manager.query(
    `INSERT INTO events (id, type, merchant_id, account_id, stream_seq, payload, created)
     VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7))
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [event.id, event.type, event.merchant, event.account, received.stream_seq, received.payload, event.created],
  );
  return rows.length === 1;
}

export async function findEvent(manager: EntityManager, id: string): Promise<EventRow | undefined> {
  const rows: EventRow[] = await manager.query('SELECT id, type, merchant_id, account_id, stream_seq FROM events WHERE id = $1', [id]);
  return rows[0];
}
