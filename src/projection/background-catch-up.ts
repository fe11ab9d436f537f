// The projection's repairs from Git that run in the background of a server. The start-up
// catch-up: the server answers from its first second while every repository's HEAD is checked
// against the projection (at 100,000 patients that check took 80 s before the server answered);
// a failed attempt is retried until one completes or the server closes, and until then readiness
// says "not ready", with the progress, so a load balancer waits for a node whose lists are
// complete (reads and writes of a record are from Git and right throughout). And the repair of
// commits that failed to project while the server ran (the database was away): retried on a timer
// until the projection has them (docs/adr/0019).
import type { Logger } from 'pino';
import { isVprError } from '../core/errors.js';
import type { Projection } from './projection.js';

/** Delay before a failed catch-up is tried again. */
const RETRY_MS = 5_000;

export interface CatchUpResult {
  readonly checked: number;
  readonly projected: number;
  readonly seconds: number;
}

export class BackgroundCatchUp {
  /** Settles when a catch-up has completed (its figures) or the server closed first (undefined). */
  readonly done: Promise<CatchUpResult | undefined>;
  readonly #abort = new AbortController();
  #checked = 0;
  #attempts = 0;
  #result: CatchUpResult | undefined;

  constructor(projection: Projection, logger: Logger, retryMs = RETRY_MS) {
    this.done = this.#run(projection, logger, retryMs);
  }

  async #run(projection: Projection, logger: Logger, retryMs: number): Promise<CatchUpResult | undefined> {
    const signal = this.#abort.signal;
    const started = performance.now();
    while (!signal.aborted) {
      this.#attempts++;
      try {
        const result = await projection.catchUp((checked) => {
          this.#checked = checked;
        }, signal);
        if (signal.aborted) break;
        this.#result = { ...result, seconds: (performance.now() - started) / 1000 };
        logger.info(
          { checked: result.checked, projected: result.projected, seconds: this.#result.seconds },
          'projection caught up with Git',
        );
        return this.#result;
      } catch (error) {
        logger.warn(
          {
            code: isVprError(error) ? error.code : 'INTERNAL',
            attempt: this.#attempts,
            retryInMs: retryMs,
          },
          'projection catch-up failed; it will be tried again',
        );
        await pause(retryMs, signal);
      }
    }
    return undefined;
  }

  /** The readiness check: ok once a catch-up has completed. */
  check(): { ok: boolean; detail?: string } {
    if (this.#result !== undefined) return { ok: true };
    const retrying = this.#attempts > 1 ? `, attempt ${this.#attempts}` : '';
    return {
      ok: false,
      detail: `catching the projection up with Git: ${this.#checked} repositories checked${retrying}`,
    };
  }

  /** Stops a catch-up still running (between batches) and waits for it to let go of the projection. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.done;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** How often the server tries again to project commits that failed to project. */
const REPAIR_EVERY_MS = 10_000;

export class MissedCommitRepair {
  readonly #projection: Projection;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | undefined;

  constructor(projection: Projection, logger: Logger, everyMs = REPAIR_EVERY_MS) {
    this.#projection = projection;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.repair(), everyMs);
    this.#timer.unref();
  }

  /** One repair, unless one is running (then that one); never throws (a failure is logged). */
  repair(): Promise<void> {
    if (this.#projection.status().missedCommits === 0) return Promise.resolve();
    this.#running ??= (async () => {
      try {
        const repositories = await this.#projection.repairMissed();
        this.#logger.info({ repositories }, 'missed commits projected from Git');
      } catch (error) {
        this.#logger.warn(
          {
            code: isVprError(error) ? error.code : 'INTERNAL',
            missedCommits: this.#projection.status().missedCommits,
          },
          'missed commits not projected yet; they will be tried again',
        );
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** No more repairs; waits for one still running. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
