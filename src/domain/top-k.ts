/**
 * Keeps the k best items seen, by a strict total order, in a bounded heap whose root is the worst kept.
 * `better(a, b)` is true when a ranks before b. `sorted()` returns the kept items best first.
 */
export class TopK {
  private readonly heap: Int32Array;
  private size = 0;

  constructor(
    private readonly k: number,
    private readonly better: (a: number, b: number) => boolean,
  ) {
    this.heap = new Int32Array(k);
  }

  reset(): void {
    this.size = 0;
  }

  offer(item: number): void {
    const heap = this.heap;
    if (this.size < this.k) {
      // Sift up: parents are worse than (ranked after) their children.
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.better(heap[parent]!, item)) break;
        heap[i] = heap[parent]!;
        i = parent;
      }
      heap[i] = item;
      return;
    }
    if (this.better(item, heap[0]!)) this.replaceRoot(item);
  }

  /** Empties the heap into a new array, best first. */
  sorted(): Int32Array {
    const out = new Int32Array(this.size);
    while (this.size > 0) {
      // The root is the worst kept item: it goes last.
      out[this.size - 1] = this.heap[0]!;
      this.replaceRoot(this.heap[--this.size]!);
    }
    return out;
  }

  /** Puts `item` at the root and sifts it down to its place among the first `size` items. */
  private replaceRoot(item: number): void {
    const heap = this.heap;
    const n = this.size;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const worse = right < n && this.better(heap[left]!, heap[right]!) ? right : left;
      if (this.better(heap[worse]!, item)) break;
      heap[i] = heap[worse]!;
      i = worse;
    }
    heap[i] = item;
  }
}
