/**
 * Seeded randomness for the fuzz nets. A run is repeatable from its printed seed:
 * `APPVISOR_FUZZ_SEED=<seed>` replays it, `APPVISOR_FUZZ_COUNT=<n>` sets the number of
 * cases, and `APPVISOR_TEST_LONG=1` multiplies the default count by 20.
 */

/** What a fuzz net runs: its seed and how many cases. */
export interface FuzzRun {
  seed: number;
  count: number;
}

/** The seed and count of a net whose default is `count` cases from `seed`. */
export function fuzzRun(defaults: FuzzRun): FuzzRun {
  const seed = Number(process.env.APPVISOR_FUZZ_SEED ?? defaults.seed);
  const long = process.env.APPVISOR_TEST_LONG === '1';
  const count = Number(process.env.APPVISOR_FUZZ_COUNT ?? defaults.count * (long ? 20 : 1));
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(count) || count < 1) {
    throw new Error('APPVISOR_FUZZ_SEED and APPVISOR_FUZZ_COUNT must be whole numbers');
  }
  return { seed, count };
}

/** A small seeded generator (mulberry32): the same seed gives the same cases. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('nothing to pick from');
    return items[this.below(items.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.below(256);
    return out;
  }
}
