/**
 * A cache that keeps what was used recently, in two generations: when the young one is full, the old
 * one is dropped and the young one takes its place. A hit in the old generation moves up. Memory stays
 * within two generations however many keys pass through.
 */
export class RecentCache<V> {
  private young = new Map<number, V>();
  private old = new Map<number, V>();

  /** `onEvict` is told when entries are dropped: a caller that knew every key can no longer tell a miss. */
  constructor(
    private readonly generationSize: number,
    private readonly onEvict: () => void = () => {},
  ) {}

  get(key: number): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const older = this.old.get(key);
    if (older !== undefined) this.set(key, older);
    return older;
  }

  set(key: number, value: V): void {
    if (this.young.size >= this.generationSize && !this.young.has(key)) {
      if (this.old.size > 0) this.onEvict();
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }
}
