// A small client of the vpr.v1.VPR service for this repository's own tests, benchmarks and tools:
// unary calls as promises (answer and trailers), the streamed letter upload and the streamed
// attachment download, a write signed in two steps, with the API key sent as `x-api-key`
// metadata on every call.
import * as grpc from '@grpc/grpc-js';
import { SERVICE_NAME, loadVprProto } from './grpc-server.js';
import { signPrepared, type SignerFiles } from '../../client/signing-client.js';

export interface CallResult<T> {
  readonly response: T;
  readonly trailers: grpc.Metadata;
}

type Method = (...args: unknown[]) => grpc.ClientUnaryCall;

export class VprGrpcClient {
  readonly #client: grpc.Client;
  readonly #key: string | undefined;
  readonly #service: grpc.ServiceDefinition;

  constructor(address: string, options: { key?: string; credentials?: grpc.ChannelCredentials } = {}) {
    const definition = grpc.loadPackageDefinition(loadVprProto());
    const Service = (definition.vpr as { v1: { VPR: grpc.ServiceClientConstructor } }).v1.VPR;
    this.#client = new Service(address, options.credentials ?? grpc.credentials.createInsecure());
    this.#service = Service.service;
    this.#key = options.key;
  }

  /** Metadata with the client's key (or another, or none when `key` is null). */
  metadata(key?: string | null): grpc.Metadata {
    const metadata = new grpc.Metadata();
    const chosen = key === undefined ? this.#key : key;
    if (chosen !== null && chosen !== undefined) metadata.set('x-api-key', chosen);
    return metadata;
  }

  #method(name: string): Method {
    const method = (this.#client as unknown as Record<string, Method>)[name];
    if (method === undefined) throw new Error(`${SERVICE_NAME} has no ${name}`);
    return method.bind(this.#client);
  }

  /**
   * A unary write whose commit is signed by `signer` in two steps: PrepareSignedCall with the
   * request serialised, the prepared bytes signed here, SubmitCommitSignature. Answers the
   * commit that landed, or `landed: false` when the call changed nothing.
   */
  async callSigned(
    name: string,
    request: object,
    signer: SignerFiles,
    options: { key?: string | null } = {},
  ): Promise<{ landed: boolean; commit?: string; signer?: unknown }> {
    const method = this.#service[name];
    if (method === undefined) throw new Error(`${SERVICE_NAME} has no ${name}`);
    const serialised = method.requestSerialize(request);
    const { response } = await this.call<{
      prepared_commit?: { prepared_commit_id: string; bytes: Buffer };
      no_change?: boolean;
    }>('PrepareSignedCall', { method: name, request: serialised }, options);
    const prepared = response.prepared_commit;
    if (prepared === undefined || prepared === null) return { landed: false };
    const parts = signPrepared(prepared, signer);
    const landed = await this.call<{ commit: string; signer: unknown }>(
      'SubmitCommitSignature',
      {
        prepared_commit_id: prepared.prepared_commit_id,
        signature: parts.signature,
        certificates: parts.certificates,
      },
      options,
    );
    return { landed: true, commit: landed.response.commit, signer: landed.response.signer };
  }

  /** One unary call; rejects with the grpc-js ServiceError (code, details, metadata). */
  call<T = Record<string, unknown>>(
    name: string,
    request: object,
    options: { key?: string | null; metadata?: grpc.Metadata; deadline?: Date } = {},
  ): Promise<CallResult<T>> {
    return new Promise((resolve, reject) => {
      let answer: { error: grpc.ServiceError | null; response: T } | undefined;
      const call = this.#method(name)(
        request,
        options.metadata ?? this.metadata(options.key),
        options.deadline === undefined ? {} : { deadline: options.deadline },
        (error: grpc.ServiceError | null, response: T) => {
          answer = { error, response };
        },
      );
      // The trailers come with the status, which grpc-js reports after the answer.
      call.on('status', (status: grpc.StatusObject) => {
        if (answer === undefined || answer.error !== null) reject(answer?.error ?? new Error(status.details));
        else resolve({ response: answer.response, trailers: status.metadata });
      });
    });
  }

  /** A letter with attachments, each streamed in `chunkSize` pieces. */
  uploadLetter<T = Record<string, unknown>>(
    letter: { patient_id: string; letter: object },
    files: readonly { filename: string; bytes: Buffer }[],
    options: { key?: string | null; chunkSize?: number } = {},
  ): Promise<T> {
    const chunkSize = options.chunkSize ?? 64 * 1024;
    return new Promise((resolve, reject) => {
      const stream = (
        this.#method('UploadLetter') as unknown as (
          metadata: grpc.Metadata,
          callback: (error: grpc.ServiceError | null, response: T) => void,
        ) => grpc.ClientWritableStream<unknown>
      )(this.metadata(options.key), (error, response) => {
        if (error !== null) reject(error);
        else resolve(response);
      });
      stream.write({ letter });
      for (const file of files) {
        stream.write({ attachment: { filename: file.filename } });
        for (let at = 0; at < file.bytes.length; at += chunkSize) {
          stream.write({ chunk: file.bytes.subarray(at, at + chunkSize) });
        }
      }
      stream.end();
    });
  }

  /** An attachment: its reference (the first message) and its bytes. */
  async downloadAttachment(
    request: { patient_id: string; letter_id: string; hash: string; version?: string },
    options: { key?: string | null } = {},
  ): Promise<{ file: Record<string, unknown>; bytes: Buffer; messages: number }> {
    const stream = (
      this.#method('DownloadAttachment') as unknown as (
        request: object,
        metadata: grpc.Metadata,
      ) => grpc.ClientReadableStream<{ file?: Record<string, unknown>; data?: Buffer }>
    )(request, this.metadata(options.key));
    let file: Record<string, unknown> | undefined;
    const chunks: Buffer[] = [];
    let messages = 0;
    for await (const message of stream) {
      messages++;
      if (message.file !== undefined) file = message.file;
      if (message.data !== undefined) chunks.push(message.data);
    }
    if (file === undefined) throw new Error('the download sent no file reference');
    return { file, bytes: Buffer.concat(chunks), messages };
  }

  close(): void {
    this.#client.close();
  }
}
