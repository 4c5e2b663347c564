import { rmSync } from 'node:fs';

/** A piece of infrastructure we found or started. */
export interface InfraHandle {
  /** 'PostgreSQL' or 'nats-server', for messages. */
  name: string;
  url: string;
  /** True when we started it (and stop() ends it); false when we only found it. */
  started: boolean;
  /** Ends what we started; does nothing for what we found. */
  stop(): Promise<void>;
  /** Its last output lines, when we started it. */
  tail(count?: number): string[];
}

export function foundInfra(name: string, url: string): InfraHandle {
  return { name, url, started: false, stop: async () => undefined, tail: () => [] };
}

/** The handle of a server we started: stop() ends it, and removes its data folder when it was throwaway. */
export function startedInfra(
  name: string,
  url: string,
  child: { stop(): Promise<unknown>; tail(count?: number): string[] },
  throwaway_data_dir: string | undefined,
): InfraHandle {
  return {
    name,
    url,
    started: true,
    tail: (count) => child.tail(count),
    stop: async () => {
      await child.stop();
      if (throwaway_data_dir !== undefined) rmSync(throwaway_data_dir, { recursive: true, force: true });
    },
  };
}
