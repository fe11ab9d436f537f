// The one place the projection parses YAML: a file's top-level mapping, parsed once per file
// and shared by everything that reads it (the document's title and the facts it contributes).
// Anything that is not a mapping, or not valid YAML, is `undefined`: a malformed file yields
// no title and no facts, never a failed projection.
//
// The record's files are written with the `yaml` package; they are read here with js-yaml 4
// and its YAML 1.2 core schema, which resolves scalars as `yaml` does (dates stay strings) and
// parses these files five to ten times as fast as `yaml` (and as js-yaml 5), where parsing was
// the largest single cost of a reindex (docs/adr/0006-reindex-in-worker-threads.md). A test
// checks that both parsers agree on every kind of file the record holds.
import { CORE_SCHEMA, load } from 'js-yaml';

export type YamlMapping = Readonly<Record<string, unknown>>;

export function parseYamlMapping(text: string): YamlMapping | undefined {
  try {
    const value = load(text, { schema: CORE_SCHEMA }) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as YamlMapping)
      : undefined;
  } catch {
    return undefined;
  }
}
