import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const streams_listed_max = 10_000;
const cleanup_timeout_ms = 5_000;

/**
 * Deletes the JetStream streams (and so consumers, KV buckets, object
 * stores) a run made under its unique prefix, so a shared NATS does not
 * fill up with test leftovers. Returns the names deleted.
 */
export async function deleteNatsStreams(natsUrl: string, prefix: string): Promise<string[]> {
  const escaped = prefix.replace(/[-]/g, '\\-');
  const ours = new RegExp(`^(KV_|OBJ_)?${escaped}($|[_.-])`);
  const connection = await connect({ servers: natsUrl, timeout: cleanup_timeout_ms, reconnect: false });
  try {
    const manager = await jetstreamManager(connection, { timeout: cleanup_timeout_ms });
    const names: string[] = [];
    let listed = 0;
    for await (const name of manager.streams.names()) {
      if (ours.test(name)) names.push(name);
      if (++listed >= streams_listed_max) break;
    }
    for (const name of names) await manager.streams.delete(name);
    return names;
  } finally {
    await connection.close();
  }
}
