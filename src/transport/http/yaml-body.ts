// Request bodies sent as YAML (entries may be written in the format they are stored in). Parsed
// defensively: aliases are refused outright (no "billion laughs" expansion), nesting is bounded,
// and anything that is not a single mapping is a clear INVALID_INPUT, never a crash.
import { parseDocument } from 'yaml';
import { invalidInput } from '../../core/errors.js';
import { MAX_BODY_DEPTH } from '../../core/input.js';

function depthOf(value: unknown, limit: number): number {
  // Iterative, so a document nested deeper than the stack allows cannot overflow it here.
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

export function parseYamlBody(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) throw doc.errors[0];
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (error) {
    const aliases = error instanceof Error && /alias/i.test(error.message);
    throw invalidInput('body', aliases ? 'YAML aliases are not accepted' : 'is not valid YAML');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidInput('body', 'must be a YAML mapping');
  }
  if (depthOf(value, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw invalidInput('body', `is nested more than ${MAX_BODY_DEPTH} levels deep`);
  }
  return value as Record<string, unknown>;
}
