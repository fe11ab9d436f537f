// `vpr repo …`, `vpr reindex`, `vpr catch-up`, `vpr verify …`: work on the repositories and the
// projection of the local data directory itself (the record store, no server), and verifying a
// patient — or every patient — through the API, local or remote.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseCommitMessage } from '../../core/commit/commit-message.js';
import { VprError, invalidInput } from '../../core/errors.js';
import { REPOSITORY_KINDS, type RepositoryKind } from '../../core/record/record-layout.js';
import { RecordStore, parseVersion } from '../../core/record/record-store.js';
import { NO_TRUST_ANCHORS, parseTrustAnchors } from '../../core/signing/trust-anchors.js';
import { verifyCommitBytes, type Verdict } from '../../core/signing/verify-commit.js';
import { verifyHistory } from '../../core/signing/verify-history.js';
import { loadConfig, type VprConfig } from '../../config/config.js';
import { Projection } from '../../projection/projection.js';
import { countRepositories } from '../../projection/reindex.js';
import { MAX_REINDEX_THREADS } from '../../projection/row-builder-pool.js';
import type { CliContext } from '../context.js';
import { count } from './shared.js';

type Json = Record<string, unknown>;

function kindOf(value: string): RepositoryKind {
  if (!REPOSITORY_KINDS.includes(value as RepositoryKind)) {
    throw invalidInput('<kind>', `must be one of ${REPOSITORY_KINDS.join(', ')}`);
  }
  return value as RepositoryKind;
}

/** A verdict for people: valid (by whom), unsigned, or invalid (why). */
function describe(verdict: Verdict): string {
  if (verdict.status === 'unsigned') return 'unsigned';
  if (verdict.status === 'invalid') return `INVALID (${verdict.reason}): ${verdict.detail}`;
  const { subject, registration, certified } = verdict.signer;
  return certified
    ? `signed, valid: ${subject} ${registration ?? ''}`.trim()
    : 'signed, valid: an uncertified key';
}

/** Runs `work` on the local data directory's record store; refused with --server. */
async function withStore<T>(
  ctx: CliContext,
  work: (store: RecordStore, config: VprConfig) => Promise<T>,
): Promise<T> {
  if (ctx.profile.server !== undefined) {
    throw new VprError(
      'INVALID_INPUT',
      'this command works on the local data directory (VPR_DATA_DIR), not a server',
      {
        details: { usage: true },
      },
    );
  }
  const config = loadConfig();
  const store = new RecordStore({ dataDir: config.dataDir });
  await store.open();
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}

/** Runs `work` on the local data directory's projection and record store; refused with --server. */
export async function withProjection<T>(
  ctx: CliContext,
  work: (projection: Projection, store: RecordStore) => Promise<T>,
): Promise<T> {
  return withStore(ctx, async (store, config) => {
    const projection = await Projection.open(
      {
        dataDir: config.dataDir,
        ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
      },
      store,
    );
    try {
      return await work(projection, store);
    } finally {
      await projection.close();
    }
  });
}

/** Rebuilds the local projection from Git (worker threads), with a progress bar on a terminal. */
export async function reindexWithProgress(ctx: CliContext, threads?: number) {
  return withProjection(ctx, async (projection, store) => {
    const bar = ctx.out.progress(await countRepositories(store), 'repositories');
    const result = await projection.reindex({
      onProgress: (done) => bar?.update(done),
      ...(threads === undefined ? {} : { threads }),
    });
    bar?.stop();
    return result;
  });
}

export function registerRecordCommands(program: Command, context: () => CliContext): void {
  const repo = program
    .command('repo')
    .description("one of a patient's Git repositories, on the local data directory");
  repo
    .command('show <kind> <id> <path>')
    .description('a file at HEAD or at a version')
    .option('--version <commit>', 'at this commit')
    .action(async (kind: string, id: string, path: string, o: { version?: string }) => {
      const ctx = context();
      const content = await withStore(ctx, (store) => store.readFile(kindOf(kind), id, path, o.version));
      if (ctx.out.json) ctx.out.answer({ path, content: content.toString('utf8') }, { kind: 'record' });
      else process.stdout.write(content);
    });
  repo
    .command('history <kind> <id>')
    .description('commits, newest first')
    .option('--path <path>', 'only commits that changed this file')
    .option('--limit <n>', 'how many', count)
    .option('--after <commit>', 'the next page')
    .action(async (kind: string, id: string, o: { path?: string; limit?: number; after?: string }) => {
      const ctx = context();
      const page = await withStore(ctx, (store) => store.history(kindOf(kind), id, o));
      const commits = page.commits.map((c) => ({
        commit: c.id,
        time: new Date(c.committer.timestamp).toISOString(),
        author: c.author.name,
        subject: c.message.split('\n')[0] ?? '',
        trailers: parseCommitMessage(c.message)?.trailers ?? [],
      }));
      ctx.out.answer(
        { commits, next: page.next ?? null },
        {
          kind: 'table',
          rows: (a) => a.commits,
          columns: [
            { header: 'commit', value: (c: Json) => String(c.commit).slice(0, 12) },
            { header: 'time', value: (c: Json) => c.time },
            { header: 'author', value: (c: Json) => c.author },
            { header: 'subject', value: (c: Json) => c.subject },
          ] as never,
          footer: (a) => (a.next === null ? undefined : `more: --after ${a.next}`),
        },
      );
    });
  repo
    .command('diff <kind> <id> <path> <from> <to>')
    .description('a unified diff of one file between two commits')
    .action(async (kind: string, id: string, path: string, from: string, to: string) => {
      const ctx = context();
      const diff = await withStore(ctx, (store) => store.diffFile(kindOf(kind), id, path, from, to));
      ctx.out.answer({ diff }, { kind: 'text', text: (a) => a.diff });
    });
  repo
    .command('recover <kind> <id>')
    .description('remove abandoned locks and temp files; rebuild the working tree from HEAD')
    .action(async (kind: string, id: string) => {
      const ctx = context();
      await withStore(ctx, (store) => store.recover(kindOf(kind), id));
      ctx.out.answer({ ok: true }, { kind: 'text', text: () => 'recovered' });
    });
  repo
    .command('repack <kind> <id>')
    .description('maintenance: repack objects and refs under the write lock')
    .action(async (kind: string, id: string) => {
      const ctx = context();
      await withStore(ctx, (store) => store.maintain(kindOf(kind), id));
      ctx.out.answer({ ok: true }, { kind: 'text', text: () => 'repacked' });
    });

  const projectionCommand = (name: 'reindex' | 'catch-up', description: string) =>
    program
      .command(name)
      .description(description)
      .option(
        '--threads <n>',
        `threads reading Git (0 to ${MAX_REINDEX_THREADS}; default one per core)`,
        count,
      )
      .action(async (o: { threads?: number }) => {
        const ctx = context();
        if (o.threads !== undefined && o.threads > MAX_REINDEX_THREADS) {
          throw invalidInput('--threads', `must be a whole number from 0 to ${MAX_REINDEX_THREADS}`);
        }
        if (name === 'reindex') {
          const result = await reindexWithProgress(ctx, o.threads);
          const rate = result.patients / Math.max(result.seconds, 1e-9);
          ctx.out.answer(result, {
            kind: 'text',
            text: (r) =>
              `reindexed ${r.repositories} repositories (${r.patients} patients) in ${r.seconds.toFixed(1)} s: ` +
              `${rate.toFixed(0)} patients/s, ${(r.repositories / Math.max(r.seconds, 1e-9)).toFixed(0)} repositories/s`,
          });
          return;
        }
        const started = performance.now();
        const result = await withProjection(ctx, async (projection, store) => {
          const bar = ctx.out.progress(await countRepositories(store), 'repositories');
          const caughtUp = await projection.catchUp((checked) => bar?.update(checked));
          bar?.stop();
          return caughtUp;
        });
        const seconds = (performance.now() - started) / 1000;
        ctx.out.answer(
          { ...result, seconds },
          {
            kind: 'text',
            text: (r) =>
              `checked ${r.checked} repositories in ${r.seconds.toFixed(1)} s; ${r.projected} re-projected`,
          },
        );
      });
  projectionCommand('reindex', 'rebuild the projection from Git (new tables, then swapped in)');
  projectionCommand('catch-up', 'project every repository whose HEAD the projection lacks');

  program
    .command('verify <what> [id]')
    .description(
      'verify signatures: <kind> <id> (one repository, local), patient <patient-id>, or patients (every patient), against VPR_TRUST_ANCHORS; exit 1 when anything is invalid',
    )
    .option('--commit <sha>', 'one commit only (with <kind> <id>)')
    .option('--limit <n>', 'commits checked per repository, newest first', count)
    .action(async (what: string, id: string | undefined, o: { commit?: string; limit?: number }) => {
      const ctx = context();
      if (what === 'patient' || what === 'patients') {
        await verifyPatients(ctx, what === 'patient' ? id : undefined, o.limit);
        return;
      }
      if (id === undefined) throw invalidInput('<id>', 'verify <kind> needs the repository id');
      const commits = await withStore(ctx, async (store, config) => {
        const anchors =
          config.trustAnchorsFile === undefined
            ? NO_TRUST_ANCHORS
            : parseTrustAnchors(await readFile(config.trustAnchorsFile, 'utf8'), 'VPR_TRUST_ANCHORS');
        const repository = await store.repository(kindOf(what), id);
        if (o.commit === undefined) return (await verifyHistory(repository, anchors, o.limit)).commits;
        const commit = parseVersion(o.commit, '--commit');
        return [{ commit, verdict: verifyCommitBytes(await repository.readCommitBytes(commit), anchors) }];
      });
      ctx.out.answer(commits, {
        kind: 'text',
        text: (list) => list.map(({ commit, verdict }) => `${commit}  ${describe(verdict)}`).join('\n'),
      });
      if (commits.some((c) => c.verdict.status === 'invalid')) process.exitCode = 1;
    });
}

/** One patient's signatures, or every patient's (paged through the list, with a progress bar). */
async function verifyPatients(
  ctx: CliContext,
  patientId: string | undefined,
  limit: number | undefined,
): Promise<void> {
  const one = async (id: string) =>
    (
      await ctx.send({
        method: 'GET',
        path: `/api/v1/patients/${encodeURIComponent(id)}/signatures`,
        query: { limit },
      })
    ).body as Json;
  if (patientId !== undefined) {
    const verdict = await one(patientId);
    ctx.out.answer(verdict, {
      kind: 'table',
      rows: (v) => v.repositories as Json[],
      columns: [
        { header: 'repository', value: (r: Json) => r.kind },
        { header: 'checked', value: (r: Json) => r.commits_checked },
        { header: 'valid', value: (r: Json) => r.valid },
        { header: 'unsigned', value: (r: Json) => r.unsigned },
        { header: 'invalid', value: (r: Json) => r.invalid },
        { header: 'signers', value: (r: Json) => r.signers },
      ] as never,
      footer: (v) =>
        v.intact
          ? 'intact: no commit failed verification'
          : 'NOT INTACT: see the invalid commits with --json',
    });
    if (verdict.intact !== true) process.exitCode = 1;
    return;
  }
  // Every patient: those not deleted, then the soft-deleted ones (their records are kept too).
  const ids: string[] = [];
  for (const deleted of [false, true]) {
    let cursor: string | undefined;
    do {
      const page = (
        await ctx.send({ method: 'GET', path: '/api/v1/patients', query: { limit: 100, cursor, deleted } })
      ).body as { patients: Json[]; next_cursor: string | null };
      ids.push(...page.patients.map((p) => p.patient_id as string));
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }
  const bar = ctx.out.progress(ids.length, 'patients');
  const failed: Json[] = [];
  for (const [i, id] of ids.entries()) {
    const verdict = await one(id);
    if (verdict.intact !== true) failed.push(verdict);
    bar?.update(i + 1);
  }
  bar?.stop();
  ctx.out.answer(
    { patients: ids.length, intact: ids.length - failed.length, failed },
    {
      kind: 'text',
      text: (r) =>
        `${r.patients} patients verified: ${r.intact} intact` +
        (r.failed.length === 0
          ? ''
          : `, NOT INTACT: ${r.failed.map((f) => String(f.patient_id)).join(', ')}`),
    },
  );
  if (failed.length > 0) process.exitCode = 1;
}
