// A small closed-loop load harness for the benchmarks: N concurrent writers each run one
// operation after another, first for a shared warm-up count, then until either the operation
// count or the time budget is spent, whichever comes first. Latency is measured per operation;
// throughput is completed operations over the wall-clock time of the measured phase.

export interface MeasureOptions {
  /** How many writers run at once; each has its own target (its own patient). */
  readonly concurrency: number;
  /** Operations run (shared among the writers) before measuring; at least one per writer. */
  readonly warmUpOps: number;
  /** Stop starting operations once this many have been started in the measured phase... */
  readonly maxOps: number;
  /** ...or once this much time has passed, whichever comes first. */
  readonly maxMs: number;
  /** One operation by writer `writer` (0-based); `n` counts that writer's operations, warm-up included. */
  readonly op: (writer: number, n: number) => Promise<void>;
}

export interface Measurement {
  readonly concurrency: number;
  readonly ops: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

/** Nearest-rank percentile of an ascending list; NaN when the list is empty. */
export function percentile(sortedAscending: readonly number[], fraction: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.min(sortedAscending.length, Math.max(1, Math.ceil(fraction * sortedAscending.length)));
  return sortedAscending[rank - 1]!;
}

export async function measure(options: MeasureOptions): Promise<Measurement> {
  const writers = Array.from({ length: options.concurrency }, (_, i) => i);
  const counts = writers.map(() => 0);
  const next = (writer: number) => {
    const n = counts[writer]!;
    counts[writer] = n + 1;
    return n;
  };

  let warmUpLeft = Math.max(options.warmUpOps, options.concurrency);
  await Promise.all(
    writers.map(async (writer) => {
      while (warmUpLeft > 0) {
        warmUpLeft--;
        await options.op(writer, next(writer));
      }
    }),
  );

  const latencies: number[] = [];
  let started = 0;
  const start = performance.now();
  const deadline = start + options.maxMs;
  await Promise.all(
    writers.map(async (writer) => {
      while (started < options.maxOps && performance.now() < deadline) {
        started++;
        const opStart = performance.now();
        await options.op(writer, next(writer));
        latencies.push(performance.now() - opStart);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    concurrency: options.concurrency,
    ops: latencies.length,
    seconds,
    opsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
  };
}
