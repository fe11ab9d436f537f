// How the record's stored YAML files are written, and read back: a file's top-level mapping, for the
// projection (parsed once per file and shared by everything that reads it) and for the core's
// readers of letters, entries, ledgers and care events. Anything that is not a mapping, or not valid
// YAML (duplicate keys included), is `undefined`: a malformed file yields no title, no facts and
// no item, never a failed projection. For the projection, aliases resolve to shared references
// (js-yaml never copies them), so an alias bomb costs nothing; the core's readers refuse them
// (`parseYamlMappingWithoutAliases`). Request bodies are parsed elsewhere, strictly
// (src/transport/http/yaml-body.ts).
//
// The record's files are written with the `yaml` package; they are read here with js-yaml 4
// and its YAML 1.2 core schema, which resolves scalars as `yaml` does (dates stay strings) and
// parses these files five to ten times as fast as `yaml` (and as js-yaml 5), where parsing was
// the largest single cost of a reindex (docs/adr/0006-reindex-in-worker-threads.md). A test
// checks that both parsers agree on every kind of file the record holds. Where the two core
// schemas differ (js-yaml reads `0b101`, `-0x1F` and `+0o17` as numbers; for `yaml` they are
// strings), `renderRecordYaml` quotes such strings, so every writer gets the one rule.
import { CORE_SCHEMA, load } from 'js-yaml';
import { parse, stringify, type ScalarTag } from 'yaml';

/**
 * The integers js-yaml's core schema reads that `yaml`'s does not: binary, and hexadecimal or
 * octal with a sign. Given to `yaml` as a compatibility schema, so that a string spelt like one
 * is written quoted; it is never used to read.
 */
const JS_YAML_ONLY_INTEGERS: ScalarTag = {
  tag: 'tag:yaml.org,2002:int',
  default: true,
  test: /^(?:[-+]?0b[01]+|[-+]0x[0-9a-fA-F]+|[-+]0o[0-7]+)$/,
  resolve: (text) => text,
};

export interface RecordYamlOptions {
  /** Where long lines fold; 0 never folds (the default for record files), as `yaml`'s option. */
  readonly lineWidth?: number;
}

/** The text of a record file: `yaml`'s block style, with every value read back the same by js-yaml. */
export function renderRecordYaml(value: unknown, options: RecordYamlOptions = {}): string {
  return stringify(value, { lineWidth: options.lineWidth ?? 0, compat: [JS_YAML_ONLY_INTEGERS] });
}

export type YamlMapping = Readonly<Record<string, unknown>>;

/** The top-level mapping `parseText` yields; undefined for anything else or when it throws. */
function mappingOf(parseText: () => unknown): YamlMapping | undefined {
  try {
    const value = parseText();
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as YamlMapping)
      : undefined;
  } catch {
    return undefined;
  }
}

export function parseYamlMapping(text: string): YamlMapping | undefined {
  return mappingOf(() => load(text, { schema: CORE_SCHEMA }));
}

/**
 * Where an alias could start: `*` opening a node (after a line start, white space, a flow
 * bracket or comma). Plain text such as `2*3` or `a * b` does not match; what does is parsed by
 * the strict parser, so a false alarm costs time, never a wrong answer.
 */
const MAYBE_ALIAS = /(?:^|[\s[{,])\*[^\s*]/m;

/** As `parseYamlMapping`, but a file that uses an alias is `undefined` (what the core's readers want). */
export function parseYamlMappingWithoutAliases(text: string): YamlMapping | undefined {
  if (!MAYBE_ALIAS.test(text)) return parseYamlMapping(text);
  return mappingOf(() => parse(text, { maxAliasCount: 0, uniqueKeys: true, logLevel: 'error' }));
}
