// A structured clinical entry as stored: ONE openEHR COMPOSITION per entry, written as YAML from
// a validated EntryInput (entry-kinds.ts, re-exported here) and read back leniently — a file
// written by hand or by an older version yields what it holds, never a throw; what is not an
// entry composition reads as undefined. Rendering is deterministic (fixed key order, no line
// folding), and reading what was rendered gives back exactly the validated input.
//
// The shape (every node carries `_type`; ELEMENTs carry the archetype's at-code where VPR knows
// it, otherwise a plain descriptive node id: `clinical_status`, `reference_range`,
// `interpretation`):
//
//   _type: COMPOSITION
//   rm_version: 1.1.0
//   uid: {_type: HIER_OBJECT_ID, value: <entry id, a TimestampId>}
//   archetype_node_id: openEHR-EHR-COMPOSITION.encounter.v1      (problem: …problem_list.v2)
//   name: {_type: DV_TEXT, value: <ENTRY_TITLES[kind]>}
//   language: CODE_PHRASE ISO_639-1::en
//   category: DV_CODED_TEXT openehr::433 event                   (problem: openehr::431 persistent)
//   composer: {_type: PARTY_IDENTIFIED, name, role}
//   context: {_type: EVENT_CONTEXT, start_time: DV_DATE_TIME <recorded_at>, setting: openehr::238 other care}
//   vpr: {entry_kind: <kind>, supersedes: <entry id, only when given>}
//   content: [<the entry, below>]
//
// Observations: OBSERVATION <ENTRY_ARCHETYPES[kind]> with language, encoding (UTF-8), subject
// PARTY_SELF, data: HISTORY (origin = recorded_at) with one POINT_EVENT (time = recorded_at)
// whose ITEM_TREE holds the measurements; `state` and `protocol` ITEM_TREEs only when needed.
//   blood_pressure.v2: data at0001 / event at0006 / tree at0003: at0004 Systolic, at0005 Diastolic
//     (DV_QUANTITY mm[Hg]), at0033 Comment; state at0007: at0008 Position (local at1000 Standing,
//     at1001 Sitting, at1002 Reclining, at1003 Lying); protocol at0011: at0014 Location of
//     measurement (local at0025 Right arm, at0026 Left arm, at0027 Right thigh, at0028 Left thigh;
//     "other" as plain DV_TEXT Other).
//   pulse.v2: data at0002 / event at0003 / tree at0001: at0004 Rate (DV_QUANTITY /min), at0005
//     Regularity (local at0006 Regular, at1028 Irregular), at1059 Comment.
//   body_weight.v2: data at0002 / event at0003 / tree at0001: at0004 Weight (DV_QUANTITY kg), at0024
//     Comment; state at0008: at0009 State of dress (local at0010 Fully clothed, including shoes;
//     at0011 Lightly clothed/underwear; at0013 Naked).
//   laboratory_test_result.v1: data at0001 / event at0002 / tree at0003: at0005 Test name (DV_TEXT,
//     or DV_CODED_TEXT <test_code.system>::<test_code.code>), CLUSTER openEHR-EHR-CLUSTER.specimen.v1
//     (at0029 Specimen type), at0073 Overall test status (local at0120 Preliminary, at0038 Final,
//     at0040 Amended, at0115 Corrected), CLUSTER openEHR-EHR-CLUSTER.laboratory_test_analyte.v1
//     holding at0001 Analyte result (DV_QUANTITY {magnitude, units} or DV_TEXT), `reference_range`
//     (DV_INTERVAL of DV_QUANTITY, inclusive bounds, `units` only when the range gives one) and
//     `interpretation` (HL7 v3 ObservationInterpretation N, L, H, LL, HH, A); at0101 Comment.
// Problem: EVALUATION openEHR-EHR-EVALUATION.problem_diagnosis.v1, data ITEM_TREE at0001: at0002
//   Problem/Diagnosis name (DV_TEXT, or DV_CODED_TEXT <code.terminology>::<code.value>),
//   `clinical_status` (HL7 condition-clinical active, inactive, resolved), at0077 Date/time of
//   onset and at0030 Date/time of resolution (DV_DATE_TIME holding a date), at0005 Severity (local
//   at0047 Mild, at0048 Moderate, at0049 Severe), at0069 Comment.
import { parseYamlMappingWithoutAliases, renderRecordYaml } from '../yaml-mapping.js';
import { invalidInput } from '../errors.js';
import { parseSingleLine } from '../commit/author.js';
import { parseTimestampId, type TimestampId } from '../ids/timestamp-id.js';
import { RM_VERSION } from '../record/ehr-status.js';
import {
  ENTRY_ARCHETYPES,
  ENTRY_KINDS,
  ENTRY_TITLES,
  isEntryKind,
  isObservationKind,
  type BloodPressureEntry,
  type BloodPressurePosition,
  type BodyWeightEntry,
  type CuffLocation,
  type EntryInput,
  type EntryKind,
  type HeartRateEntry,
  type HeartRhythm,
  type LabInterpretation,
  type LabResultEntry,
  type LabStatus,
  type ProblemEntry,
  type ProblemSeverity,
  type ProblemStatus,
  type Quantity,
  type ReferenceRange,
  type StateOfDress,
} from './entry-kinds.js';

export * from './entry-kinds.js';

export const ENCOUNTER_ARCHETYPE = 'openEHR-EHR-COMPOSITION.encounter.v1';
export const PROBLEM_LIST_ARCHETYPE = 'openEHR-EHR-COMPOSITION.problem_list.v2';
export const SPECIMEN_ARCHETYPE = 'openEHR-EHR-CLUSTER.specimen.v1';
export const ANALYTE_ARCHETYPE = 'openEHR-EHR-CLUSTER.laboratory_test_analyte.v1';
export const INTERPRETATION_TERMINOLOGY =
  'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
export const CONDITION_CLINICAL_TERMINOLOGY = 'http://terminology.hl7.org/CodeSystem/condition-clinical';

/** Larger than any entry VPR writes by far; a bigger file is not read as an entry. */
const MAX_COMPOSITION_CHARS = 256 * 1024;

/** Who composed the entry, as the composition records it. */
export interface EntryComposer {
  readonly name: string;
  readonly role: string;
}

export interface EntryCompositionInput {
  /** A TimestampId: the entry's id and the composition's uid. */
  readonly entryId: string;
  readonly entry: EntryInput;
  readonly composer: EntryComposer;
  /** The entry (a TimestampId) this one replaces with newer information. */
  readonly supersedes?: string;
}

/** An entry composition as read back. */
export interface StoredEntry {
  readonly entryId: TimestampId;
  readonly kind: EntryKind;
  /** The composition's start time: the entry's `recorded_at`. */
  readonly recordedAt: string;
  /** Empty strings when the file names no composer. */
  readonly composer: EntryComposer;
  readonly supersedes?: TimestampId;
  readonly entry: EntryInput;
}

/** A coded value: the at-code (or external code) and its text; no code means plain DV_TEXT. */
interface Term {
  readonly code?: string;
  readonly text: string;
}

interface Terms<T extends string> {
  readonly terminology: string;
  readonly terms: Readonly<Record<T, Term>>;
}

const POSITIONS: Terms<BloodPressurePosition> = {
  terminology: 'local',
  terms: {
    sitting: { code: 'at1001', text: 'Sitting' },
    standing: { code: 'at1000', text: 'Standing' },
    lying: { code: 'at1003', text: 'Lying' },
    reclining: { code: 'at1002', text: 'Reclining' },
  },
};

const CUFF_LOCATION_TERMS: Terms<CuffLocation> = {
  terminology: 'local',
  terms: {
    left_arm: { code: 'at0026', text: 'Left arm' },
    right_arm: { code: 'at0025', text: 'Right arm' },
    left_thigh: { code: 'at0028', text: 'Left thigh' },
    right_thigh: { code: 'at0027', text: 'Right thigh' },
    other: { text: 'Other' },
  },
};

const RHYTHMS: Terms<HeartRhythm> = {
  terminology: 'local',
  terms: { regular: { code: 'at0006', text: 'Regular' }, irregular: { code: 'at1028', text: 'Irregular' } },
};

const DRESS: Terms<StateOfDress> = {
  terminology: 'local',
  terms: {
    clothed: { code: 'at0010', text: 'Fully clothed, including shoes' },
    light_clothing: { code: 'at0011', text: 'Lightly clothed/underwear' },
    naked: { code: 'at0013', text: 'Naked' },
  },
};

const LAB_STATUS_TERMS: Terms<LabStatus> = {
  terminology: 'local',
  terms: {
    preliminary: { code: 'at0120', text: 'Preliminary' },
    final: { code: 'at0038', text: 'Final' },
    amended: { code: 'at0040', text: 'Amended' },
    corrected: { code: 'at0115', text: 'Corrected' },
  },
};

const INTERPRETATIONS: Terms<LabInterpretation> = {
  terminology: INTERPRETATION_TERMINOLOGY,
  terms: {
    normal: { code: 'N', text: 'Normal' },
    low: { code: 'L', text: 'Low' },
    high: { code: 'H', text: 'High' },
    critical_low: { code: 'LL', text: 'Critical low' },
    critical_high: { code: 'HH', text: 'Critical high' },
    abnormal: { code: 'A', text: 'Abnormal' },
  },
};

const PROBLEM_STATUS_TERMS: Terms<ProblemStatus> = {
  terminology: CONDITION_CLINICAL_TERMINOLOGY,
  terms: {
    active: { code: 'active', text: 'Active' },
    inactive: { code: 'inactive', text: 'Inactive' },
    resolved: { code: 'resolved', text: 'Resolved' },
  },
};

const SEVERITIES: Terms<ProblemSeverity> = {
  terminology: 'local',
  terms: {
    mild: { code: 'at0047', text: 'Mild' },
    moderate: { code: 'at0048', text: 'Moderate' },
    severe: { code: 'at0049', text: 'Severe' },
  },
};

/** The node ids of each observation's HISTORY, EVENT, data tree, and state and protocol trees. */
const STRUCTURE: Readonly<
  Record<
    Exclude<EntryKind, 'problem'>,
    { history: string; event: string; tree: string; state?: string; protocol?: string }
  >
> = {
  blood_pressure: { history: 'at0001', event: 'at0006', tree: 'at0003', state: 'at0007', protocol: 'at0011' },
  heart_rate: { history: 'at0002', event: 'at0003', tree: 'at0001' },
  body_weight: { history: 'at0002', event: 'at0003', tree: 'at0001', state: 'at0008' },
  lab_result: { history: 'at0001', event: 'at0002', tree: 'at0003' },
};

// ---- Rendering -------------------------------------------------------------------------------

type Node = Readonly<Record<string, unknown>>;

const dvText = (value: string): Node => ({ _type: 'DV_TEXT', value });
const codePhrase = (terminology: string, code: string): Node => ({
  _type: 'CODE_PHRASE',
  terminology_id: { _type: 'TERMINOLOGY_ID', value: terminology },
  code_string: code,
});
const dvCoded = (value: string, terminology: string, code: string): Node => ({
  _type: 'DV_CODED_TEXT',
  value,
  defining_code: codePhrase(terminology, code),
});
const dvDateTime = (value: string): Node => ({ _type: 'DV_DATE_TIME', value });
const dvQuantity = (magnitude: number, units: string | undefined): Node => ({
  _type: 'DV_QUANTITY',
  magnitude,
  ...(units === undefined ? {} : { units }),
});
const element = (nodeId: string, name: string, value: Node): Node => ({
  _type: 'ELEMENT',
  archetype_node_id: nodeId,
  name: dvText(name),
  value,
});
const itemTree = (nodeId: string, name: string, items: readonly Node[]): Node => ({
  _type: 'ITEM_TREE',
  archetype_node_id: nodeId,
  name: dvText(name),
  items,
});
const cluster = (nodeId: string, name: string, items: readonly Node[]): Node => ({
  _type: 'CLUSTER',
  archetype_node_id: nodeId,
  name: dvText(name),
  items,
});

function coded<T extends string>(vocabulary: Terms<T>, value: T): Node {
  const term = vocabulary.terms[value];
  return term.code === undefined ? dvText(term.text) : dvCoded(term.text, vocabulary.terminology, term.code);
}

/** `[element]` when the value is given, else `[]`: for spreading into an item list. */
function maybe<T>(value: T | undefined, make: (value: T) => Node): Node[] {
  return value === undefined ? [] : [make(value)];
}

const ENTRY_HEADER = {
  language: codePhrase('ISO_639-1', 'en'),
  encoding: codePhrase('IANA_character-sets', 'UTF-8'),
  subject: { _type: 'PARTY_SELF' },
};

function observation(
  entry: Exclude<EntryInput, ProblemEntry>,
  parts: { items: readonly Node[]; state?: readonly Node[]; protocol?: readonly Node[] },
): Node {
  const ids = STRUCTURE[entry.kind];
  const state = parts.state ?? [];
  const protocol = parts.protocol ?? [];
  return {
    _type: 'OBSERVATION',
    archetype_node_id: ENTRY_ARCHETYPES[entry.kind],
    name: dvText(ENTRY_TITLES[entry.kind]),
    ...ENTRY_HEADER,
    data: {
      _type: 'HISTORY',
      archetype_node_id: ids.history,
      name: dvText('History'),
      origin: dvDateTime(entry.recorded_at),
      events: [
        {
          _type: 'POINT_EVENT',
          archetype_node_id: ids.event,
          name: dvText('Any event'),
          time: dvDateTime(entry.recorded_at),
          data: itemTree(ids.tree, 'Tree', parts.items),
          ...(state.length === 0 || ids.state === undefined
            ? {}
            : { state: itemTree(ids.state, 'State', state) }),
        },
      ],
    },
    ...(protocol.length === 0 || ids.protocol === undefined
      ? {}
      : { protocol: itemTree(ids.protocol, 'Protocol', protocol) }),
  };
}

function renderBloodPressure(entry: BloodPressureEntry): Node {
  return observation(entry, {
    items: [
      element('at0004', 'Systolic', dvQuantity(entry.systolic_mmhg, 'mm[Hg]')),
      element('at0005', 'Diastolic', dvQuantity(entry.diastolic_mmhg, 'mm[Hg]')),
      ...maybe(entry.comment, (c) => element('at0033', 'Comment', dvText(c))),
    ],
    state: maybe(entry.position, (p) => element('at0008', 'Position', coded(POSITIONS, p))),
    protocol: maybe(entry.cuff_location, (l) =>
      element('at0014', 'Location of measurement', coded(CUFF_LOCATION_TERMS, l)),
    ),
  });
}

function renderHeartRate(entry: HeartRateEntry): Node {
  return observation(entry, {
    items: [
      element('at0004', 'Rate', dvQuantity(entry.rate_bpm, '/min')),
      ...maybe(entry.rhythm, (r) => element('at0005', 'Regularity', coded(RHYTHMS, r))),
      ...maybe(entry.comment, (c) => element('at1059', 'Comment', dvText(c))),
    ],
  });
}

function renderBodyWeight(entry: BodyWeightEntry): Node {
  return observation(entry, {
    items: [
      element('at0004', 'Weight', dvQuantity(entry.weight_kg, 'kg')),
      ...maybe(entry.comment, (c) => element('at0024', 'Comment', dvText(c))),
    ],
    state: maybe(entry.state_of_dress, (s) => element('at0009', 'State of dress', coded(DRESS, s))),
  });
}

function renderReferenceRange(range: ReferenceRange): Node {
  return {
    _type: 'DV_INTERVAL',
    ...(range.low === undefined ? {} : { lower: dvQuantity(range.low, range.unit) }),
    ...(range.high === undefined ? {} : { upper: dvQuantity(range.high, range.unit) }),
    lower_unbounded: range.low === undefined,
    upper_unbounded: range.high === undefined,
    ...(range.low === undefined ? {} : { lower_included: true }),
    ...(range.high === undefined ? {} : { upper_included: true }),
  };
}

function renderLabResult(entry: LabResultEntry): Node {
  const result =
    entry.value_quantity !== undefined
      ? dvQuantity(entry.value_quantity.value, entry.value_quantity.unit)
      : dvText(entry.value_text);
  const testName =
    entry.test_code === undefined
      ? dvText(entry.test_name)
      : dvCoded(entry.test_name, entry.test_code.system, entry.test_code.code);
  return observation(entry, {
    items: [
      element('at0005', 'Test name', testName),
      ...maybe(entry.specimen, (s) =>
        cluster(SPECIMEN_ARCHETYPE, 'Specimen', [element('at0029', 'Specimen type', dvText(s))]),
      ),
      element('at0073', 'Overall test status', coded(LAB_STATUS_TERMS, entry.status)),
      cluster(ANALYTE_ARCHETYPE, 'Analyte result', [
        element('at0001', 'Analyte result', result),
        ...maybe(entry.reference_range, (r) =>
          element('reference_range', 'Reference range', renderReferenceRange(r)),
        ),
        ...maybe(entry.interpretation, (i) =>
          element('interpretation', 'Interpretation', coded(INTERPRETATIONS, i)),
        ),
      ]),
      ...maybe(entry.comment, (c) => element('at0101', 'Comment', dvText(c))),
    ],
  });
}

function renderProblem(entry: ProblemEntry): Node {
  const name =
    entry.code === undefined
      ? dvText(entry.name)
      : dvCoded(entry.name, entry.code.terminology, entry.code.value);
  return {
    _type: 'EVALUATION',
    archetype_node_id: ENTRY_ARCHETYPES.problem,
    name: dvText(ENTRY_TITLES.problem),
    ...ENTRY_HEADER,
    data: itemTree('at0001', 'Structure', [
      element('at0002', 'Problem/Diagnosis name', name),
      element('clinical_status', 'Clinical status', coded(PROBLEM_STATUS_TERMS, entry.status)),
      ...maybe(entry.onset_date, (d) => element('at0077', 'Date/time of onset', dvDateTime(d))),
      ...maybe(entry.resolved_date, (d) => element('at0030', 'Date/time of resolution', dvDateTime(d))),
      ...maybe(entry.severity, (s) => element('at0005', 'Severity', coded(SEVERITIES, s))),
      ...maybe(entry.comment, (c) => element('at0069', 'Comment', dvText(c))),
    ]),
  };
}

function renderContent(entry: EntryInput): Node {
  switch (entry.kind) {
    case 'blood_pressure':
      return renderBloodPressure(entry);
    case 'heart_rate':
      return renderHeartRate(entry);
    case 'body_weight':
      return renderBodyWeight(entry);
    case 'lab_result':
      return renderLabResult(entry);
    case 'problem':
      return renderProblem(entry);
  }
}

/**
 * The YAML text of the one COMPOSITION that stores a validated entry. Throws INVALID_ID for an
 * entry id or `supersedes` that is not a TimestampId, INVALID_INPUT for a composer name or role
 * that is not a single line, or an entry that supersedes itself.
 */
export function renderEntryComposition(input: EntryCompositionInput): string {
  const entryId = parseTimestampId(input.entryId, 'entryId');
  const supersedes =
    input.supersedes === undefined ? undefined : parseTimestampId(input.supersedes, 'supersedes');
  if (supersedes === entryId) throw invalidInput('supersedes', 'must name another entry');
  const composerName = parseSingleLine(input.composer.name, 'composer.name');
  const composerRole = parseSingleLine(input.composer.role, 'composer.role', 64);
  const { entry } = input;
  const persistent = !isObservationKind(entry.kind);
  const composition = {
    _type: 'COMPOSITION',
    rm_version: RM_VERSION,
    uid: { _type: 'HIER_OBJECT_ID', value: entryId },
    archetype_node_id: persistent ? PROBLEM_LIST_ARCHETYPE : ENCOUNTER_ARCHETYPE,
    name: dvText(ENTRY_TITLES[entry.kind]),
    language: codePhrase('ISO_639-1', 'en'),
    category: persistent ? dvCoded('persistent', 'openehr', '431') : dvCoded('event', 'openehr', '433'),
    composer: { _type: 'PARTY_IDENTIFIED', name: composerName, role: composerRole },
    context: {
      _type: 'EVENT_CONTEXT',
      start_time: dvDateTime(entry.recorded_at),
      setting: dvCoded('other care', 'openehr', '238'),
    },
    vpr: { entry_kind: entry.kind, ...(supersedes === undefined ? {} : { supersedes }) },
    content: [renderContent(entry)],
  };
  return renderRecordYaml(composition);
}

// ---- Lenient reading: what the file holds, nothing invented, never a throw --------------------

type Mapping = Readonly<Record<string, unknown>>;

const asMapping = (value: unknown): Mapping | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Mapping) : undefined;
const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const asNumber = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;
const mappings = (value: unknown): Mapping[] =>
  Array.isArray(value) ? value.filter((v: unknown): v is Mapping => asMapping(v) !== undefined) : [];

function timestampIdOf(value: unknown): TimestampId | undefined {
  try {
    return parseTimestampId(value);
  } catch {
    return undefined;
  }
}

/** The items of a tree or cluster, found by archetype node id. */
class Items {
  readonly #items: Mapping[];

  constructor(node: unknown) {
    this.#items = mappings(asMapping(node)?.items);
  }

  node(nodeId: string): Mapping | undefined {
    return this.#items.find((item) => item.archetype_node_id === nodeId);
  }

  value(nodeId: string): Mapping | undefined {
    return asMapping(this.node(nodeId)?.value);
  }

  text(nodeId: string): string | undefined {
    return asString(this.value(nodeId)?.value);
  }

  magnitude(nodeId: string): number | undefined {
    return asNumber(this.value(nodeId)?.magnitude);
  }

  /** The value a coded element holds: by its code, or else by its text. */
  coded<T extends string>(nodeId: string, vocabulary: Terms<T>): T | undefined {
    const value = this.value(nodeId);
    const code = asString(asMapping(value?.defining_code)?.code_string);
    const text = asString(value?.value);
    const entries = Object.entries(vocabulary.terms) as [T, Term][];
    const byCode = code === undefined ? undefined : entries.find(([, term]) => term.code === code);
    const byText = entries.find(([, term]) => term.text.toLowerCase() === text?.toLowerCase());
    return (byCode ?? byText)?.[0];
  }
}

/** `{ [key]: value }` when the value was found, else `{}`: for spreading into an entry. */
function optional<K extends string, T>(key: K, value: T | undefined): { readonly [P in K]?: T } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: T });
}

interface ReadContext {
  readonly recordedAt: string;
  readonly content: Mapping;
}

/** The one event's data, state and the protocol of an observation. */
function observationParts(content: Mapping) {
  const event = mappings(asMapping(content.data)?.events)[0];
  return {
    data: new Items(event?.data),
    state: new Items(event?.state),
    protocol: new Items(content.protocol),
    time: asString(asMapping(event?.time)?.value),
  };
}

function readBloodPressure({ recordedAt, content }: ReadContext): BloodPressureEntry | undefined {
  const { data, state, protocol } = observationParts(content);
  const systolic = data.magnitude('at0004');
  const diastolic = data.magnitude('at0005');
  if (systolic === undefined || diastolic === undefined) return undefined;
  return {
    kind: 'blood_pressure',
    recorded_at: recordedAt,
    systolic_mmhg: systolic,
    diastolic_mmhg: diastolic,
    ...optional('position', state.coded('at0008', POSITIONS)),
    ...optional('cuff_location', protocol.coded('at0014', CUFF_LOCATION_TERMS)),
    ...optional('comment', data.text('at0033')),
  };
}

function readHeartRate({ recordedAt, content }: ReadContext): HeartRateEntry | undefined {
  const { data } = observationParts(content);
  const rate = data.magnitude('at0004');
  if (rate === undefined) return undefined;
  return {
    kind: 'heart_rate',
    recorded_at: recordedAt,
    rate_bpm: rate,
    ...optional('rhythm', data.coded('at0005', RHYTHMS)),
    ...optional('comment', data.text('at1059')),
  };
}

function readBodyWeight({ recordedAt, content }: ReadContext): BodyWeightEntry | undefined {
  const { data, state } = observationParts(content);
  const weight = data.magnitude('at0004');
  if (weight === undefined) return undefined;
  return {
    kind: 'body_weight',
    recorded_at: recordedAt,
    weight_kg: weight,
    ...optional('state_of_dress', state.coded('at0009', DRESS)),
    ...optional('comment', data.text('at0024')),
  };
}

/** A coded text's code as `{ [systemKey]: terminology, [codeKey]: code }`, when it has both. */
function codeOf<S extends string, C extends string>(
  value: Mapping | undefined,
  systemKey: S,
  codeKey: C,
): ({ readonly [P in S]: string } & { readonly [P in C]: string }) | undefined {
  const phrase = asMapping(value?.defining_code);
  const system = asString(asMapping(phrase?.terminology_id)?.value);
  const code = asString(phrase?.code_string);
  return system === undefined || code === undefined
    ? undefined
    : ({ [systemKey]: system, [codeKey]: code } as { [P in S]: string } & { [P in C]: string });
}

function readReferenceRange(value: Mapping | undefined): ReferenceRange | undefined {
  const lower = asMapping(value?.lower);
  const upper = asMapping(value?.upper);
  const low = asNumber(lower?.magnitude);
  const high = asNumber(upper?.magnitude);
  if (low === undefined && high === undefined) return undefined;
  const unit = asString(lower?.units) ?? asString(upper?.units);
  return { ...optional('low', low), ...optional('high', high), ...optional('unit', unit) };
}

function readLabResult({ recordedAt, content }: ReadContext): LabResultEntry | undefined {
  const { data } = observationParts(content);
  const testName = data.text('at0005');
  const analyte = new Items(data.node(ANALYTE_ARCHETYPE));
  const result = analyte.value('at0001');
  if (testName === undefined || result === undefined) return undefined;
  let value: { value_quantity: Quantity } | { value_text: string };
  const magnitude = asNumber(result.magnitude);
  const units = asString(result.units);
  const text = asString(result.value);
  if (result._type === 'DV_QUANTITY' && magnitude !== undefined && units !== undefined) {
    value = { value_quantity: { value: magnitude, unit: units } };
  } else if (result._type !== 'DV_QUANTITY' && text !== undefined) {
    value = { value_text: text };
  } else {
    return undefined;
  }
  return {
    kind: 'lab_result',
    recorded_at: recordedAt,
    test_name: testName,
    ...optional('test_code', codeOf(data.value('at0005'), 'system', 'code')),
    ...value,
    ...optional('reference_range', readReferenceRange(analyte.value('reference_range'))),
    ...optional('interpretation', analyte.coded('interpretation', INTERPRETATIONS)),
    ...optional('specimen', new Items(data.node(SPECIMEN_ARCHETYPE)).text('at0029')),
    status: data.coded('at0073', LAB_STATUS_TERMS) ?? 'final',
    ...optional('comment', data.text('at0101')),
  };
}

function readProblem({ recordedAt, content }: ReadContext): ProblemEntry | undefined {
  const data = new Items(content.data);
  const name = data.text('at0002');
  const status = data.coded('clinical_status', PROBLEM_STATUS_TERMS);
  if (name === undefined || status === undefined) return undefined;
  return {
    kind: 'problem',
    recorded_at: recordedAt,
    name,
    ...optional('code', codeOf(data.value('at0002'), 'terminology', 'value')),
    status,
    ...optional('onset_date', data.text('at0077')),
    ...optional('resolved_date', data.text('at0030')),
    ...optional('severity', data.coded('at0005', SEVERITIES)),
    ...optional('comment', data.text('at0069')),
  };
}

const READERS: Readonly<Record<EntryKind, (context: ReadContext) => EntryInput | undefined>> = {
  blood_pressure: readBloodPressure,
  heart_rate: readHeartRate,
  body_weight: readBodyWeight,
  lab_result: readLabResult,
  problem: readProblem,
};

/** The YAML text's top-level mapping, parsed with aliases refused; undefined for anything else. */
function parseMapping(text: string): Mapping | undefined {
  if (typeof text !== 'string' || text.length > MAX_COMPOSITION_CHARS) return undefined;
  try {
    return asMapping(parseYamlMappingWithoutAliases(text));
  } catch {
    return undefined;
  }
}

/**
 * An entry composition read back; undefined when the text is not one (not YAML, not a mapping,
 * not a COMPOSITION, no valid uid, an unknown kind, content of another archetype, or the values
 * an entry of its kind cannot lack). Optional values the file holds in an unexpected form are
 * left out. Never throws; YAML aliases are refused, so an alias bomb costs nothing.
 */
export function readEntryComposition(text: string): StoredEntry | undefined {
  const root = parseMapping(text);
  if (root === undefined || root._type !== 'COMPOSITION') return undefined;
  const entryId = timestampIdOf(asMapping(root.uid)?.value);
  if (entryId === undefined) return undefined;
  const vpr = asMapping(root.vpr);
  const content = mappings(root.content)[0];
  const archetype = content?.archetype_node_id;
  const kind = isEntryKind(vpr?.entry_kind)
    ? vpr.entry_kind
    : ENTRY_KINDS.find((k) => ENTRY_ARCHETYPES[k] === archetype);
  if (kind === undefined || content === undefined || archetype !== ENTRY_ARCHETYPES[kind]) return undefined;
  const startTime = asString(asMapping(asMapping(root.context)?.start_time)?.value);
  const recordedAt = startTime ?? (kind === 'problem' ? undefined : observationParts(content).time);
  if (recordedAt === undefined) return undefined;
  const entry = READERS[kind]({ recordedAt, content });
  if (entry === undefined) return undefined;
  const composer = asMapping(root.composer);
  const supersedes = timestampIdOf(vpr?.supersedes);
  return {
    entryId,
    kind,
    recordedAt,
    composer: { name: asString(composer?.name) ?? '', role: asString(composer?.role) ?? '' },
    ...(supersedes === undefined ? {} : { supersedes }),
    entry,
  };
}

// ---- Summaries for lists ---------------------------------------------------------------------

/** The longest snippet a summary gives. */
export const SUMMARY_SNIPPET_MAX = 160;

const words = (value: string) => value.replace(/_/g, ' ');

function snippetOf(entry: EntryInput): string {
  switch (entry.kind) {
    case 'blood_pressure':
      return [
        `${entry.systolic_mmhg}/${entry.diastolic_mmhg} mmHg`,
        ...(entry.position === undefined ? [] : [entry.position]),
        ...(entry.cuff_location === undefined || entry.cuff_location === 'other'
          ? []
          : [words(entry.cuff_location)]),
      ].join(', ');
    case 'heart_rate':
      return [`${entry.rate_bpm} bpm`, ...(entry.rhythm === undefined ? [] : [entry.rhythm])].join(', ');
    case 'body_weight':
      return [
        `${entry.weight_kg} kg`,
        ...(entry.state_of_dress === undefined ? [] : [words(entry.state_of_dress)]),
      ].join(', ');
    case 'lab_result': {
      const value =
        entry.value_quantity !== undefined
          ? `${entry.value_quantity.value} ${entry.value_quantity.unit}`
          : entry.value_text;
      return [
        `${entry.test_name}: ${value}`,
        ...(entry.interpretation === undefined ? [] : [words(entry.interpretation)]),
        ...(entry.status === 'final' ? [] : [entry.status]),
      ].join(', ');
    }
    case 'problem':
      return [
        entry.name,
        entry.status,
        ...(entry.severity === undefined ? [] : [entry.severity]),
        ...(entry.onset_date === undefined ? [] : [`since ${entry.onset_date}`]),
      ].join(', ');
  }
}

/** A one-line title and snippet for lists, e.g. `Blood pressure` / `128/82 mmHg, sitting`. */
export function entrySummary(stored: Pick<StoredEntry, 'kind' | 'entry'>): {
  title: string;
  snippet: string;
} {
  const snippet = snippetOf(stored.entry).replace(/\s+/g, ' ');
  return {
    title: ENTRY_TITLES[stored.kind],
    snippet:
      snippet.length <= SUMMARY_SNIPPET_MAX ? snippet : `${snippet.slice(0, SUMMARY_SNIPPET_MAX - 1)}…`,
  };
}
