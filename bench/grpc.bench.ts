// `npm run bench:grpc`: the same unary calls through both doors of one running server, side by
// side in one run. The server is its own process (`node dist/src/main.js`, REST and gRPC, fsync
// on, info logs on); this process drives it over loopback, REST with Node's fetch (undici) and
// gRPC with @grpc/grpc-js — both general-purpose clients, so neither door gets a faster client
// than the other. For each backend (the embedded PGlite default, then PostgreSQL + Redis): seed
// patients, then read a patient (GET /api/v1/patients/:id | GetPatient) and replace one
// (PUT with If-Match | UpdatePatient with expected_version), at a paced 50/s (open model,
// latency from when each call was due) and then with 16 calls in flight (closed model). Writes
// go round robin over the seeded patients, so no two in flight change the same one. Bounded:
// SECONDS per run.
import { randomBytes } from 'node:crypto';
import { VprGrpcClient } from '../src/transport/grpc/grpc-client.js';
import {
  closedLoop,
  fetchSend,
  pace,
  printRow,
  removeLater,
  seedPatients,
  startServer,
  onEachBackend,
  type Row,
  type Send,
} from './http-load.js';
import { lettersOf } from './synthetic-names.js';

const SEED = Number(process.env.VPR_BENCH_GRPC_PATIENTS ?? 1_000);
const SECONDS = Number(process.env.VPR_BENCH_GRPC_SECONDS ?? 15);
const BACKENDS = (process.env.VPR_BENCH_GRPC_BACKENDS ?? 'pglite,postgres').split(',');
const IN_FLIGHT = 16;
const KEY = `bench-${randomBytes(16).toString('hex')}`;

const demographics = (family: string, given: string) => ({
  given_name: given,
  family_name: family,
  date_of_birth: '1970-01-01',
  sex_at_birth: 'unknown',
  gender_identity: 'undisclosed',
});

async function measure(backend: string, env: Record<string, string>): Promise<Row[]> {
  const server = await startServer(KEY, env);
  const client = new VprGrpcClient(server.grpcAddress, { key: KEY });
  try {
    console.log(`${backend}: seeding ${SEED} patients…`);
    const etags = await seedPatients(server.base, KEY, SEED, (i) =>
      JSON.stringify(demographics(`Seed${lettersOf(i, 5)}`, 'Given')),
    );
    const ids = [...etags.keys()];
    /** Each patient's current version, whichever door changed it last. */
    const versions = new Map([...etags].map(([id, etag]) => [id, etag.replaceAll('"', '')]));
    let r = 0;
    let w = 0;
    const sends: Record<string, Send> = {
      'REST read': fetchSend(server.base, () => ({
        method: 'GET',
        path: `/api/v1/patients/${ids[r++ % ids.length]}`,
        headers: { 'x-api-key': KEY },
      })),
      'gRPC read': async () => {
        await client.call('GetPatient', { patient_id: ids[r++ % ids.length] });
        return true;
      },
      'REST write': fetchSend(server.base, () => {
        const id = ids[w++ % ids.length]!;
        return {
          method: 'PUT',
          path: `/api/v1/patients/${id}`,
          headers: {
            'x-api-key': KEY,
            'content-type': 'application/json',
            'if-match': `"${versions.get(id)}"`,
          },
          body: JSON.stringify(demographics(`Edit${lettersOf(w, 7)}`, 'Given')),
          onDone: (response) => {
            const etag = response.headers.get('etag');
            if (etag !== null) versions.set(id, etag.replaceAll('"', ''));
          },
        };
      }),
      'gRPC write': async () => {
        const id = ids[w++ % ids.length]!;
        const { response } = await client.call<{ version: string }>('UpdatePatient', {
          patient_id: id,
          expected_version: versions.get(id),
          patient: demographics(`Edit${lettersOf(w, 7)}`, 'Given'),
        });
        versions.set(id, response.version);
        return true;
      },
    };
    // Warm both doors (connections, JIT) before anything is measured.
    for (const send of Object.values(sends)) for (let i = 0; i < 50; i++) await send();
    const rows: Row[] = [];
    for (const operation of ['read', 'write']) {
      for (const door of ['REST', 'gRPC']) {
        rows.push(await pace(backend, `${door} ${operation}`, sends[`${door} ${operation}`]!, 50, SECONDS));
        printRow(rows.at(-1)!);
      }
      for (const door of ['REST', 'gRPC']) {
        rows.push(
          await closedLoop(
            backend,
            `${door} ${operation}`,
            sends[`${door} ${operation}`]!,
            IN_FLIGHT,
            SECONDS,
          ),
        );
        printRow(rows.at(-1)!);
      }
    }
    return rows;
  } finally {
    client.close();
    await server.stop();
    removeLater(server.dataDir);
  }
}

console.log(
  `Node ${process.version} · ${SEED} seeded patients · ${SECONDS} s per run · ${new Date().toISOString()}`,
);
await onEachBackend(BACKENDS, measure);
console.log(
  '\nread = a patient by id (GET | GetPatient); write = replace demographics (PUT | UpdatePatient).',
);
