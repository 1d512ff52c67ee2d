/** Seeded randomness for simulated worlds: the same seed and stream give the same values. */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) | 0;
}

/** A seeded xoroshiro128+ stream; `stream` separates independent uses of the same seed. */
export class Rng {
  private readonly g: RandomGenerator;

  constructor(seed: number, stream: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4_294_967_296) | 0;
    const s0 = mix32(lo ^ mix32(stream + 0x3c6ef372));
    const s1 = mix32(hi ^ (s0 + 0x9e3779b9));
    const s2 = mix32(s1 ^ lo ^ 0x7f4a7c15);
    const s3 = mix32(s2 ^ hi ^ stream) | (s0 === 0 && s1 === 0 && s2 === 0 ? 1 : 0);
    this.g = xoroshiro128plusFromState([s0, s1, s2, s3]);
    for (let i = 0; i < 8; i++) this.g.next();
  }

  /** Uniform in [0, 1). */
  float(): number {
    return uniformFloat64(this.g);
  }

  u32(): number {
    return this.g.next() >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits only: half the cost, enough for per-observation coin flips. */
  fast(): number {
    return (this.g.next() >>> 0) * 2.3283064365386963e-10;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(uniformFloat64(this.g) * n);
  }

  /** Uniform integer in [from, to], both included. */
  int(from: number, to: number): number {
    return uniformInt(this.g, from, to);
  }

  between(from: number, to: number): number {
    return from + (to - from) * uniformFloat64(this.g);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(uniformFloat64(this.g) * items.length)]!;
  }

  /** Standard normal (Box–Muller, one value per call to keep the stream simple). */
  normal(): number {
    const u = 1 - uniformFloat64(this.g);
    const v = uniformFloat64(this.g);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - uniformFloat64(this.g)) * mean;
  }

  /** `length` random lowercase hex digits. */
  hex(length: number): string {
    let out = "";
    while (out.length < length) out += this.int(0, 15).toString(16);
    return out;
  }
}
