/** Dense numbers for strings, such as country codes: each new string gets the next number. */
export class CodeIndex {
  readonly codes: string[] = [];
  private readonly numbers = new Map<string, number>();

  constructor(codes: Iterable<string> = []) {
    for (const code of codes) this.of(code);
  }

  /** The number of `code`, given one when it is new. */
  of(code: string): number {
    let n = this.numbers.get(code);
    if (n === undefined) {
      n = this.codes.push(code) - 1;
      this.numbers.set(code, n);
    }
    return n;
  }
}
