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
