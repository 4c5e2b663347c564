/**
 * The last `capacity` ids seen, oldest forgotten first: the fan-out sends an
 * event published twice (a relay retry after the broker's dedupe window) once.
 */
export class RecentIds {
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  /** True the first time an id is offered (within the window), false after. */
  firstTime(id: string): boolean {
    if (this.seen.has(id)) return false;
    if (this.order.length < this.capacity) {
      this.order.push(id);
    } else {
      this.seen.delete(this.order[this.next] as string);
      this.order[this.next] = id;
      this.next = (this.next + 1) % this.capacity;
    }
    this.seen.add(id);
    return true;
  }
}
