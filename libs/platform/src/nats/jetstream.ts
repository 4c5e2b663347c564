import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type StreamInfo } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { NatsNames } from '@paynet/contracts';

/** Events are kept a week: resume after a reconnect needs at least 24 h. */
export const events_max_age_ms = 7 * 24 * 3600 * 1000;
/** The broker drops a re-published event id seen within this window. */
export const events_duplicate_window_ms = 2 * 60 * 1000;

/**
 * Creates the events stream if it does not exist yet (payments and push call
 * this at boot), and refuses to run on one whose subjects are not exactly the
 * events': push's NATS user may create the stream too, and a stream that also
 * captured request subjects would record (and answer) other services' calls.
 */
export async function ensureEventsStream(nc: NatsConnection, names: NatsNames, replicas = 1): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: names.events_stream,
    subjects: [names.events_filter],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(events_max_age_ms),
    duplicate_window: nanos(events_duplicate_window_ms),
    num_replicas: replicas,
  };
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(names.events_stream);
  } catch {
    try {
      info = await jsm.streams.add(config);
    } catch (error) {
      // Another replica created it in between: fine.
      info = await jsm.streams.info(names.events_stream).catch(() => Promise.reject(error));
    }
  }
  const subjects = info.config.subjects ?? [];
  if (subjects.length !== 1 || subjects[0] !== names.events_filter) {
    throw new Error(`the events stream ${names.events_stream} has subjects ${JSON.stringify(subjects)}, not ["${names.events_filter}"]: not ours; an operator must delete it`);
  }
}
