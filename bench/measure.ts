// A small closed-loop load harness for the benchmarks. A workload is one operation run by N
// concurrent writers, each starting its next operation as soon as its last one finished. It is
// warmed up once, then measured in slices, each bounded by an operation count and a time budget,
// whichever is spent first. Slices of different workloads can be interleaved (round robin) so
// that a disk whose speed drifts during the run (shared virtual machines) biases none of them.
// Latency is measured per operation; throughput is operations over the measured wall-clock time.

export interface Measurement {
  readonly concurrency: number;
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** Throughput of the slowest and the fastest slice. */
  readonly sliceOpsPerSecond: { readonly min: number; readonly max: number };
}

/** Nearest-rank percentile of an ascending list; NaN when the list is empty. */
export function percentile(sortedAscending: readonly number[], fraction: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.min(sortedAscending.length, Math.max(1, Math.ceil(fraction * sortedAscending.length)));
  return sortedAscending[rank - 1]!;
}

export class Workload {
  readonly concurrency: number;
  /** One operation by writer `writer` (0-based); `n` counts that writer's operations so far. */
  readonly #op: (writer: number, n: number) => Promise<void>;
  readonly #counts: number[];
  readonly #latencies: number[] = [];
  readonly #sliceRates: number[] = [];
  #seconds = 0;

  constructor(concurrency: number, op: (writer: number, n: number) => Promise<void>) {
    this.concurrency = concurrency;
    this.#op = op;
    this.#counts = Array.from({ length: concurrency }, () => 0);
  }

  #run(writer: number): Promise<void> {
    const n = this.#counts[writer]!;
    this.#counts[writer] = n + 1;
    return this.#op(writer, n);
  }

  /** Runs `ops` operations (at least one per writer) shared among the writers; nothing is recorded. */
  async warmUp(ops: number): Promise<void> {
    let left = Math.max(ops, this.concurrency);
    await Promise.all(
      this.#counts.map(async (_, writer) => {
        while (left > 0) {
          left--;
          await this.#run(writer);
        }
      }),
    );
  }

  /** Measures until `maxOps` operations have been started or `maxMs` has passed; returns ops/s. */
  async slice(maxOps: number, maxMs: number): Promise<number> {
    const latencies: number[] = [];
    let started = 0;
    const start = performance.now();
    const deadline = start + maxMs;
    await Promise.all(
      this.#counts.map(async (_, writer) => {
        while (started < maxOps && performance.now() < deadline) {
          started++;
          const opStart = performance.now();
          await this.#run(writer);
          latencies.push(performance.now() - opStart);
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    this.#seconds += seconds;
    this.#latencies.push(...latencies);
    const rate = latencies.length / seconds;
    this.#sliceRates.push(rate);
    return rate;
  }

  result(): Measurement {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    return {
      concurrency: this.concurrency,
      ops: sorted.length,
      seconds: this.#seconds,
      opsPerSecond: sorted.length / this.#seconds,
      p50Ms: percentile(sorted, 0.5),
      p95Ms: percentile(sorted, 0.95),
      sliceOpsPerSecond: { min: Math.min(...this.#sliceRates), max: Math.max(...this.#sliceRates) },
    };
  }
}
