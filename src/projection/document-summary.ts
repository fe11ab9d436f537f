// What a list shows of a file without opening it: its kind, a title and a short snippet,
// computed once when the file is projected so that lists do no heavy work. A YAML file's parsed
// mapping is handed back with the summary, so the facts read from it need no second parse.
import { createHash } from 'node:crypto';
import { parseYamlMapping, type YamlMapping } from '../core/yaml-mapping.js';
import { CONTRIBUTION_TITLES, readContribution } from '../core/clinical/contribution.js';

export interface DocumentSummary {
  readonly docKind: string;
  readonly title: string;
  readonly snippet: string;
  readonly sha256: string;
  /** The top-level mapping of a YAML file; undefined for other files and malformed YAML. */
  readonly yaml?: YamlMapping;
}

const SNIPPET_LENGTH = 160;

function docKindOf(path: string): string {
  const name = path.split('/').at(-1) ?? path;
  if (path === 'patient.yaml') return 'patient';
  if (path === 'ehr_status.yaml') return 'ehr_status';
  if (path === 'COORDINATION_STATUS.yaml') return 'coordination_status';
  if (path.startsWith('correspondence/letter/')) return 'letter';
  if (path.startsWith('communications/')) return 'thread';
  if (path.startsWith('entries/')) return 'entry';
  if (path.startsWith('patient/')) return 'patient_contribution';
  if (name.endsWith('.md')) return 'markdown';
  if (name.endsWith('.yaml') || name.endsWith('.yml')) return 'yaml';
  return 'other';
}

function oneLine(text: string, length: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

function yamlTitle(record: YamlMapping | undefined): string | undefined {
  if (record === undefined) return undefined;
  const name = record.name as { value?: unknown } | undefined;
  if (typeof name?.value === 'string') return name.value;
  if (typeof record.resourceType === 'string') return record.resourceType;
  if (typeof record._type === 'string') return record._type;
  return undefined;
}

export function summariseDocument(path: string, content: Buffer): DocumentSummary {
  const sha256 = createHash('sha256').update(content).digest('hex');
  const docKind = docKindOf(path);
  const fileName = path.split('/').at(-1) ?? path;
  if (content.includes(0)) return { docKind, title: fileName, snippet: '', sha256 };
  const text = content.toString('utf8');
  const contribution = docKind === 'patient_contribution' ? readContribution(text) : undefined;
  if (contribution !== undefined) {
    const data = contribution.data;
    const said =
      typeof data === 'string'
        ? data
        : Object.entries(data)
            .map(
              ([key, value]) =>
                `${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
            )
            .join(', ');
    return {
      docKind,
      title: CONTRIBUTION_TITLES[contribution.kind],
      snippet: oneLine(said, SNIPPET_LENGTH),
      sha256,
    };
  }
  if (fileName.endsWith('.md')) {
    const heading = /^#{1,6}\s+(.+)$/m.exec(text)?.[1];
    const body = text.replace(/^#{1,6}\s+.+$/m, '').replace(/[*_`>#-]/g, ' ');
    return {
      docKind,
      title: oneLine(heading ?? fileName, 200),
      snippet: oneLine(body, SNIPPET_LENGTH),
      sha256,
    };
  }
  if (fileName.endsWith('.yaml') || fileName.endsWith('.yml')) {
    const yaml = parseYamlMapping(text);
    return {
      docKind,
      title: oneLine(yamlTitle(yaml) ?? fileName, 200),
      snippet: oneLine(text, SNIPPET_LENGTH),
      sha256,
      ...(yaml === undefined ? {} : { yaml }),
    };
  }
  return { docKind, title: fileName, snippet: oneLine(text, SNIPPET_LENGTH), sha256 };
}
