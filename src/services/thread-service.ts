// Messaging threads of the care coordination repository (seed 001, "CCR Messaging") for every
// door alike: create a thread (its ledger, and optionally a first message, in one commit), add a
// message or a correction (appended to thread.md with the ledger's last_updated_at, in one
// commit), change the ledger (participants, status, visibility, policies), read a thread whole,
// and list threads from the projection — a patient's, or the open ones a participant takes part
// in. Messages are never edited or deleted; a correction is a new message naming the one it
// corrects. There are no read receipts, urgency flags or acknowledgements: the system cannot
// know what a person has read or understood, so it does not claim to.
import { randomUUID } from 'node:crypto';
import { VprError, invalidInput } from '../core/errors.js';
import { parseTimestampId, type TimestampId } from '../core/ids/timestamp-id.js';
import type { RecordId } from '../core/ids/record-id.js';
import { objectAt, refuseUnknown } from '../core/input.js';
import {
  applyLedgerChange,
  createLedger,
  ledgerPath,
  parseLedgerChange,
  parseLedgerInput,
  readLedger,
  renderLedger,
  touchLedger,
  type Ledger,
  type MessageRole,
} from '../core/coordination/ledger.js';
import {
  appendMessage,
  parseMessageBody,
  parseMessageId,
  parseThread,
  renderThreadHeader,
  threadPath,
  type ThreadMessage,
} from '../core/coordination/thread.js';
import { listThreads, type Page, type ThreadSummary } from '../projection/coordination-queries.js';
import type { CoordinationRecord } from './coordination-record.js';
import { contentVersion, type FileReader, type ItemCommitted } from './record-access.js';
import type { Actor } from './patient-service.js';

export interface ThreadView {
  readonly communication_id: string;
  readonly patient_id: string;
  readonly coordination_id: string;
  /** The thread's version (its ETag): changes with every message and ledger change. */
  readonly version: string;
  readonly commit: string;
  readonly ledger: Ledger;
  readonly messages: readonly MessageView[];
}

const THREAD_TRAILER = 'Communication-Id';

/** Author roles (as keys files name them, any case) that post as something other than a clinician. */
const ROLE_NAMES: Readonly<Record<string, MessageRole>> = {
  patient: 'patient',
  carer: 'patientassociate',
  relative: 'patientassociate',
  parent: 'patientassociate',
  guardian: 'patientassociate',
  'patient associate': 'patientassociate',
  receptionist: 'careadministrator',
  administrator: 'careadministrator',
  'care administrator': 'careadministrator',
  'care coordinator': 'careadministrator',
  'medical secretary': 'careadministrator',
  system: 'system',
};

/**
 * The role a key's author posts in, from the role its keys file gives it: one of the names above,
 * matched whole (so "Physician Associate" is a clinician), and a clinician otherwise.
 */
export function messageRoleOf(authorRole: string): MessageRole {
  return ROLE_NAMES[authorRole.trim().toLowerCase().replace(/\s+/g, ' ')] ?? 'clinician';
}

/** The patient's side of a thread, whom `allow_patient_participation` governs. */
const PATIENT_SIDE: readonly MessageRole[] = ['patient', 'patientassociate'];

/** Wire form of a message: snake_case, as the rest of the API. */
export interface MessageView {
  readonly message_id: string;
  readonly timestamp: string;
  readonly author_id: string;
  readonly author_name: string;
  readonly role: MessageRole;
  readonly corrects: string | null;
  readonly body: string;
}

const messageView = (m: ThreadMessage): MessageView => ({
  message_id: m.messageId,
  timestamp: m.timestamp,
  author_id: m.authorId,
  author_name: m.authorName,
  role: m.role,
  corrects: m.corrects ?? null,
  body: m.body,
});

/** One thread's files, read by `readFile` (at a commit, or as a commit wrote them). */
async function readThread(communicationId: TimestampId, readFile: FileReader) {
  const ledgerText = await readFile(ledgerPath(communicationId));
  const threadText = await readFile(threadPath(communicationId));
  const ledger = ledgerText === undefined ? undefined : readLedger(ledgerText.toString('utf8'));
  if (ledgerText === undefined || threadText === undefined || ledger === undefined) {
    throw new VprError('NOT_FOUND', 'no thread with this id', {
      details: { communication_id: communicationId },
    });
  }
  return { ledger, ledgerText, threadText, version: contentVersion(ledgerText, threadText) };
}

/** The wire form of a thread whole, as stored at `commit`. */
function threadView(
  patientId: string,
  coordinationId: RecordId,
  communicationId: TimestampId,
  commit: string,
  current: { ledger: Ledger; threadText: Buffer; version: string },
): ThreadView {
  return {
    communication_id: communicationId,
    patient_id: patientId,
    coordination_id: coordinationId,
    version: current.version,
    commit,
    ledger: current.ledger,
    messages: parseThread(current.threadText.toString('utf8')).messages.map(messageView),
  };
}

export class ThreadService {
  readonly #record: CoordinationRecord;

  constructor(record: CoordinationRecord) {
    this.#record = record;
  }

  async #read(coordinationId: RecordId, communicationId: TimestampId, at: string) {
    return readThread(communicationId, this.#record.filesAt(coordinationId, at));
  }

  /** The answer of a write to a thread, from the bytes it committed. */
  async #answer(
    patientId: unknown,
    coordinationId: RecordId,
    communicationId: TimestampId,
    committed: ItemCommitted,
  ) {
    const current = await readThread(
      communicationId,
      await this.#record.filesCommitted(coordinationId, committed),
    );
    return threadView(String(patientId), coordinationId, communicationId, committed.commit, current);
  }

  #message(actor: Actor, ledger: Ledger | undefined, body: string, corrects?: string): ThreadMessage {
    const role = messageRoleOf(actor.author.role);
    if (PATIENT_SIDE.includes(role) && ledger !== undefined && !ledger.policies.allow_patient_participation) {
      throw new VprError('FORBIDDEN', 'patients may not post in this thread (its policy does not allow it)');
    }
    return {
      messageId: randomUUID(),
      timestamp: this.#record.now().toISOString(),
      authorId: actor.principal,
      authorName: actor.author.name,
      role,
      ...(corrects === undefined ? {} : { corrects }),
      body,
    };
  }

  /** `{ ledger: { participants, visibility?, policies? }, message?: { body } }`. */
  async create(actor: Actor, patientId: unknown, value: unknown): Promise<ThreadView> {
    const input = objectAt(value, '');
    refuseUnknown(input, ['ledger', 'message'], '');
    const ledgerInput = parseLedgerInput(input.ledger, 'ledger');
    let firstBody: string | undefined;
    if (input.message !== undefined && input.message !== null) {
      const message = objectAt(input.message, 'message');
      refuseUnknown(message, ['body'], 'message');
      firstBody = parseMessageBody(message.body, 'message.body');
    }
    const coordinationId = await this.#record.idForWrite(patientId);
    const communicationId = this.#record.ids.next();
    const committed = await this.#record.commitItem(actor, coordinationId, async (head) => {
      await this.#record.assertModifiableAt(coordinationId, head);
      const now = this.#record.now().toISOString();
      const ledger = createLedger(communicationId, ledgerInput, now);
      const header = renderThreadHeader(communicationId);
      const first = firstBody === undefined ? undefined : this.#message(actor, ledger, firstBody);
      const thread = first === undefined ? header : appendMessage(header, first);
      return {
        changes: [
          { path: threadPath(communicationId), content: thread },
          { path: ledgerPath(communicationId), content: renderLedger(ledger) },
        ],
        action: 'create',
        summary: 'Created messaging thread',
        trailers: [
          { key: THREAD_TRAILER, value: communicationId },
          ...(first === undefined ? [] : [{ key: 'Message-Id', value: first.messageId }]),
        ],
      };
    });
    return this.#answer(patientId, coordinationId, communicationId, committed);
  }

  /** `{ body, corrects? }`: a message, or a correction of an earlier message of this thread. */
  async addMessage(actor: Actor, patientId: unknown, threadId: unknown, value: unknown): Promise<ThreadView> {
    const communicationId = parseTimestampId(threadId, 'communication_id');
    const input = objectAt(value, '');
    refuseUnknown(input, ['body', 'corrects'], '');
    const body = parseMessageBody(input.body, 'body');
    const corrects =
      input.corrects === undefined || input.corrects === null
        ? undefined
        : parseMessageId(input.corrects, 'corrects');
    const coordinationId = await this.#record.idForWrite(patientId);
    const committed = await this.#record.commitItem(actor, coordinationId, async (head) => {
      await this.#record.assertModifiableAt(coordinationId, head);
      const current = await this.#read(coordinationId, communicationId, head);
      if (current.ledger.status !== 'open') {
        throw new VprError(
          'INVALID_STATE',
          `this thread is ${current.ledger.status} and accepts no messages`,
          {
            details: { communication_id: communicationId, status: current.ledger.status },
          },
        );
      }
      const existing = current.threadText.toString('utf8');
      // Parsed whole before anything is appended: a damaged thread.md is reported, never extended.
      const messages = parseThread(existing).messages;
      if (corrects !== undefined && !messages.some((m) => m.messageId === corrects)) {
        throw invalidInput('corrects', 'names no message of this thread');
      }
      const message = this.#message(actor, current.ledger, body, corrects);
      return {
        changes: [
          { path: threadPath(communicationId), content: appendMessage(existing, message) },
          {
            path: ledgerPath(communicationId),
            content: renderLedger(touchLedger(current.ledger, message.timestamp)),
          },
        ],
        action: 'update',
        summary: corrects === undefined ? 'Added message to thread' : 'Added correction to thread',
        trailers: [
          { key: THREAD_TRAILER, value: communicationId },
          { key: 'Message-Id', value: message.messageId },
        ],
      };
    });
    return this.#answer(patientId, coordinationId, communicationId, committed);
  }

  /** Participants, status, visibility or policies; If-Match (the thread's ETag) optional. */
  async updateLedger(
    actor: Actor,
    patientId: unknown,
    threadId: unknown,
    expected: string | undefined,
    value: unknown,
  ): Promise<ThreadView> {
    const communicationId = parseTimestampId(threadId, 'communication_id');
    const change = parseLedgerChange(value);
    if (PATIENT_SIDE.includes(messageRoleOf(actor.author.role))) {
      // Otherwise a patient could lift the policy that keeps them out, and post.
      throw new VprError('FORBIDDEN', 'the patient side of a thread cannot change its ledger');
    }
    const coordinationId = await this.#record.idForWrite(patientId);
    const { commit } = await this.#record.commitItem(actor, coordinationId, async (head) => {
      await this.#record.assertModifiableAt(coordinationId, head);
      const current = await this.#read(coordinationId, communicationId, head);
      if (expected !== undefined && current.version !== expected) {
        throw new VprError(
          'VERSION_CONFLICT',
          'the thread changed since the version this change was based on',
          {
            details: { expected, current: current.version },
          },
        );
      }
      const next = applyLedgerChange(current.ledger, change, this.#record.now().toISOString());
      return {
        changes: [{ path: ledgerPath(communicationId), content: renderLedger(next) }],
        action: 'update',
        summary: change.status !== undefined ? `Thread ${change.status}` : 'Updated thread ledger',
        trailers: [{ key: THREAD_TRAILER, value: communicationId }],
      };
    });
    return this.get(patientId, communicationId, commit);
  }

  /** The thread whole: ledger and every message, at HEAD or at a commit. */
  async get(patientId: unknown, threadId: unknown, version?: string): Promise<ThreadView> {
    const coordinationId = await this.#record.idOf(patientId);
    const communicationId = parseTimestampId(threadId, 'communication_id');
    const head = this.#record.head(coordinationId);
    const at = version ?? head;
    if (at === undefined) throw new VprError('NOT_FOUND', 'no thread with this id');
    return this.#record.viewAtHead(
      coordinationId,
      at,
      `thread-view/${coordinationId}/${at}/${communicationId}`,
      async () => {
        const current = await this.#read(coordinationId, communicationId, at);
        return {
          view: threadView(String(patientId), coordinationId, communicationId, at, current),
          cacheable: true,
        };
      },
    );
  }

  /** A patient's threads, newest first, from the projection. */
  async list(
    patientId: unknown,
    query: { status?: string; limit?: number; cursor?: string } = {},
  ): Promise<Page<ThreadSummary>> {
    const coordinationId = await this.#record.idOf(patientId);
    return listThreads(this.#record.projection.client, { coordinationId, ...query });
  }

  /** The threads a participant takes part in (open ones by default), across patients. */
  async forParticipant(
    participantId: unknown,
    query: { status?: string; limit?: number; cursor?: string } = {},
  ): Promise<Page<ThreadSummary>> {
    if (typeof participantId !== 'string' || participantId.trim() === '') {
      throw invalidInput('participant_id', 'is required');
    }
    return listThreads(this.#record.projection.client, {
      participantId: participantId.trim(),
      status: query.status ?? 'open',
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
  }
}
