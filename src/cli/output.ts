// What the `vpr` command prints. For people (the default): tables for lists, `name: value` lines
// for one item, readable dates, colour only when standard output is a terminal (and NO_COLOR is
// not set). For scripts: `--json`, the service's answer exactly. `--quiet` prints only the id a
// create answers, for `P=$(vpr patient create … -q)`. Errors go to standard error with their
// stable code; progress bars go to standard error, on a terminal only. NO_COLOR (non-empty) turns
// colour off, as no-color.org asks.
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { createColors } from 'picocolors';

export interface OutputOptions {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
}

/** A column of a table: its heading and how to read it from a row. */
export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => unknown;
}

/** How an answer is shown to people. */
export type View<T = unknown> =
  | {
      readonly kind: 'table';
      readonly rows: (answer: T) => readonly unknown[];
      readonly columns: readonly Column<never>[];
      readonly footer?: (answer: T) => string | undefined;
    }
  | { readonly kind: 'record'; readonly fields?: (answer: T) => Record<string, unknown> }
  | { readonly kind: 'text'; readonly text: (answer: T) => string };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** A value as a person reads it: times in UTC without the T and the milliseconds. */
export function readable(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') {
    if (ISO_TIME.test(value)) {
      const at = new Date(value);
      if (!Number.isNaN(at.getTime())) return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(readable).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly #stdout: NodeJS.WriteStream;
  readonly #stderr: NodeJS.WriteStream;
  readonly #colours: ReturnType<typeof createColors>;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.#stdout = options.stdout ?? process.stdout;
    this.#stderr = options.stderr ?? process.stderr;
    const env = options.env ?? process.env;
    this.#colours = createColors(this.#stdout.isTTY === true && (env.NO_COLOR ?? '') === '' && !this.json);
  }

  /** Prints a command's answer: JSON as it is, the id alone, or the view for people. */
  answer<T>(answer: T, view: View<T>, id?: (answer: T) => string | undefined): void {
    if (this.json) {
      this.#stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      return;
    }
    if (this.quiet) {
      const value = id?.(answer);
      if (value !== undefined) this.#stdout.write(`${value}\n`);
      return;
    }
    switch (view.kind) {
      case 'text':
        this.#stdout.write(`${view.text(answer)}\n`);
        return;
      case 'record': {
        const fields = view.fields?.(answer) ?? (answer as Record<string, unknown>);
        const width = Math.max(0, ...Object.keys(fields).map((k) => k.length));
        const lines = Object.entries(fields)
          .filter(([, v]) => readable(v) !== '')
          .map(([k, v]) => `${this.#colours.bold(k.padEnd(width))}  ${readable(v)}`);
        this.#stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      case 'table': {
        const rows = view.rows(answer) as never[];
        const table = new Table({
          head: view.columns.map((c) => this.#colours.bold(c.header)),
          style: { head: [], border: [] },
          chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
        });
        for (const row of rows) table.push(view.columns.map((c) => readable(c.value(row))));
        this.#stdout.write(rows.length === 0 ? 'nothing to list\n' : `${table.toString()}\n`);
        const footer = view.footer?.(answer);
        if (footer !== undefined) this.#stdout.write(`${this.#colours.dim(footer)}\n`);
        return;
      }
    }
  }

  /** A line for people on standard error (not with --json or --quiet). */
  note(text: string): void {
    if (!this.json && !this.quiet) this.#stderr.write(`${text}\n`);
  }

  /** An error with its stable code, on standard error. */
  error(code: string, message: string): void {
    this.#stderr.write(`${this.#colours.red(`vpr: ${code}`)}: ${message}\n`);
  }

  /** A progress bar with rate and ETA, on a terminal only; undefined otherwise. */
  progress(total: number, unit: string): cliProgress.SingleBar | undefined {
    if (this.json || this.quiet || this.#stderr.isTTY !== true) return undefined;
    const bar = new cliProgress.SingleBar(
      {
        stream: this.#stderr,
        format: `{bar} {value}/{total} ${unit} | {percentage}% | {rate}/s | ETA {eta_formatted}`,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: '0' });
    const started = performance.now();
    const update = bar.update.bind(bar);
    bar.update = ((value: number) => {
      const seconds = (performance.now() - started) / 1000;
      update(value, { rate: seconds > 0 ? (value / seconds).toFixed(0) : '0' });
    }) as typeof bar.update;
    return bar;
  }
}
