// The whole service listening on real sockets, for gRPC tests: the service of service.ts, its
// gRPC address, clients with any of the test keys, and an assertion that a call fails with a
// given gRPC status and VPR error code (read from the standard google.rpc details).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { VprGrpcClient } from '../../src/transport/grpc/grpc-client.js';
import { decodeStatusDetails, type DecodedStatus } from '../../src/transport/grpc/grpc-errors.js';
import { startService, type ServiceBackend, type TestService } from './service.js';

export interface GrpcTestService extends TestService {
  readonly address: string;
  readonly restUrl: string;
  client(key?: string): VprGrpcClient;
}

export async function startGrpcService(
  t: TestContext,
  backend: ServiceBackend = 'pglite',
  env: Record<string, string> = {},
): Promise<GrpcTestService> {
  const service = await startService(t, backend, env);
  const urls = await service.runtime.listen();
  const grpcUrl = urls.find((url) => url.startsWith('grpc://'));
  assert.ok(grpcUrl !== undefined, `no gRPC door among ${urls.join(', ')}`);
  const clients: VprGrpcClient[] = [];
  t.after(() => {
    for (const c of clients) c.close();
  });
  return {
    ...service,
    address: grpcUrl.slice('grpc://'.length),
    restUrl: urls.find((url) => url.startsWith('http')) ?? '',
    client(key?: string) {
      const client = new VprGrpcClient(grpcUrl.slice('grpc://'.length), key === undefined ? {} : { key });
      clients.push(client);
      return client;
    },
  };
}

/** Asserts the call fails with `code` (a grpc-js status name) and, when given, the VPR error code. */
export async function failsWith(
  call: Promise<unknown>,
  code: keyof typeof status,
  reason?: string,
): Promise<DecodedStatus & { details: string }> {
  let error: ServiceError | undefined;
  try {
    await call;
  } catch (e) {
    error = e as ServiceError;
  }
  assert.ok(
    error !== undefined,
    `expected ${code}${reason === undefined ? '' : ` (${reason})`}, but the call succeeded`,
  );
  assert.equal(status[error.code], code, `${status[error.code]}: ${error.details}`);
  const decoded = decodeStatusDetails(error.metadata);
  if (reason !== undefined) {
    assert.ok(decoded !== undefined, 'the error carries grpc-status-details-bin');
    assert.equal(decoded.reason, reason, error.details);
    assert.equal(decoded.domain, 'vpr.v1');
    assert.equal(decoded.code, error.code, 'the rich status names the same code');
    assert.deepEqual(error.metadata.get('vpr-error-code'), [reason]);
  }
  return {
    ...(decoded ?? { code: error.code, message: error.details, metadata: {}, fieldViolations: [] }),
    details: error.details,
  };
}
