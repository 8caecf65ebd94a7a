/**
 * The in-memory history of samples: one ring of timestamps shared by every series, one typed
 * array per series. A day of samples every 10 s is 8,640 slots; storing them as arrays of
 * objects would cost tens of megabytes, typed arrays cost 4 bytes a value.
 */

/** How the values of one bucket are combined when the history is downsampled. */
export interface Bucket {
  /** Start of the bucket, epoch ms (a multiple of the resolution). */
  at: number;
  /** Mean of the series' values in it, by series; null when it has none. */
  avg: (number | null)[];
  /** Largest value, by series; null when it has none. */
  max: (number | null)[];
}

/**
 * A fixed-capacity ring of samples. Every sample has a time (Float64, epoch ms) and one value
 * per series (Float32; NaN when the series had no value then, e.g. a stopped app). Series are
 * added when first seen and removed when their source goes away (an uninstalled app).
 */
export class SampleRing {
  readonly capacity: number;
  readonly #times: Float64Array;
  readonly #series = new Map<string, Float32Array>();
  /** Slot the next sample goes to. */
  #head = 0;
  #count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be ≥ 1');
    this.capacity = capacity;
    this.#times = new Float64Array(capacity);
  }

  /** Samples held, at most the capacity. */
  get size(): number {
    return this.#count;
  }

  /** Names of the series held, in the order they were added. */
  get seriesNames(): string[] {
    return [...this.#series.keys()];
  }

  /** Bytes of the typed arrays behind the ring (the memory that grows with the history). */
  get byteLength(): number {
    let total = this.#times.byteLength;
    for (const values of this.#series.values()) total += values.byteLength;
    return total;
  }

  /**
   * Appends one sample taken at `at` (epoch ms). Series missing from `values` get NaN; unknown
   * names start a new series whose earlier slots are NaN. The oldest sample is overwritten once
   * the ring is full.
   */
  push(at: number, values: Readonly<Record<string, number | null>>): void {
    const slot = this.#head;
    this.#times[slot] = at;
    for (const name of Object.keys(values)) {
      if (!this.#series.has(name))
        this.#series.set(name, new Float32Array(this.capacity).fill(NaN));
    }
    for (const [name, array] of this.#series) {
      const value = values[name];
      array[slot] = value === null || value === undefined ? NaN : value;
    }
    this.#head = (slot + 1) % this.capacity;
    this.#count = Math.min(this.#count + 1, this.capacity);
  }

  /** Forgets a series (its source is gone). */
  drop(name: string): void {
    this.#series.delete(name);
  }

  /** Slot indexes of the samples, oldest first. */
  *#slots(): Generator<number> {
    const first = (this.#head - this.#count + this.capacity) % this.capacity;
    for (let i = 0; i < this.#count; i++) yield (first + i) % this.capacity;
  }

  /** The raw samples of one series between `from` and `to` (inclusive, epoch ms), oldest first. */
  values(name: string, from = -Infinity, to = Infinity): { at: number; value: number | null }[] {
    const array = this.#series.get(name);
    const out: { at: number; value: number | null }[] = [];
    for (const slot of this.#slots()) {
      const at = this.#times[slot]!;
      if (at < from || at > to) continue;
      const value = array ? array[slot]! : NaN;
      out.push({ at, value: Number.isNaN(value) ? null : value });
    }
    return out;
  }

  /**
   * The samples between `from` and `to` (inclusive, epoch ms) grouped in buckets of
   * `resolutionMs` aligned on multiples of it, oldest first. Only buckets holding at least one
   * sample are returned, so a gap in the history (the manager was down) stays a gap.
   */
  downsample(names: readonly string[], resolutionMs: number, from: number, to: number): Bucket[] {
    const arrays = names.map((name) => this.#series.get(name));
    const buckets: Bucket[] = [];
    let current: { at: number; sum: number[]; n: number[]; max: number[] } | undefined;
    const flush = () => {
      if (!current) return;
      const c = current;
      buckets.push({
        at: c.at,
        avg: c.n.map((n, i) => (n > 0 ? round(c.sum[i]! / n) : null)),
        max: c.n.map((n, i) => (n > 0 ? round(c.max[i]!) : null)),
      });
    };
    for (const slot of this.#slots()) {
      const at = this.#times[slot]!;
      if (at < from || at > to) continue;
      const start = resolutionMs > 0 ? Math.floor(at / resolutionMs) * resolutionMs : at;
      if (!current || current.at !== start) {
        flush();
        current = {
          at: start,
          sum: names.map(() => 0),
          n: names.map(() => 0),
          max: names.map(() => -Infinity),
        };
      }
      arrays.forEach((array, i) => {
        const value = array ? array[slot]! : NaN;
        if (Number.isNaN(value)) return;
        current!.sum[i]! += value;
        current!.n[i]! += 1;
        if (value > current!.max[i]!) current!.max[i] = value;
      });
    }
    flush();
    return buckets;
  }
}

/** Float32 holds about 7 significant digits; more in the JSON would only be noise. */
function round(value: number): number {
  return Number(value.toPrecision(7));
}
