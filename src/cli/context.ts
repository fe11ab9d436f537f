// What every `vpr` command is handed: the global options, the output, the profile (who acts,
// where), and the way to the service — opened on first use, local or remote — with writes signed
// in two steps when a signer is configured. Commands only turn arguments into requests here.
import { readFile } from 'node:fs/promises';
import { VprError } from '../core/errors.js';
import { signedWriteVia, type SignedOutcome, type SignerFiles } from '../client/signing-client.js';
import { loadConfig } from '../config/config.js';
import {
  LocalApi,
  RemoteApi,
  type ApiAnswer,
  type ApiClient,
  type ApiRequest,
  type LocalOptions,
} from './api-client.js';
import { Output } from './output.js';
import { loadProfile, type Profile, type ProfileFlags } from './profile.js';

export interface GlobalOptions extends ProfileFlags {
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** A write's outcome: the service's answer, or the signed commit that landed. */
export type WriteOutcome =
  | { readonly signed: false; readonly answer: ApiAnswer }
  | { readonly signed: true; readonly outcome: SignedOutcome };

export class CliContext {
  readonly out: Output;
  readonly options: GlobalOptions;
  #profile: Profile | undefined;
  #api: ApiClient | undefined;

  constructor(options: GlobalOptions) {
    this.options = options;
    this.out = new Output({ json: options.json === true, quiet: options.quiet === true });
  }

  get profile(): Profile {
    this.#profile ??= loadProfile(this.options);
    return this.#profile;
  }

  /**
   * The service: the server of --server / VPR_SERVER / the profile, else the local data directory
   * (opened with `local`, such as keys that exist only in this process).
   */
  async api(local: LocalOptions = {}): Promise<ApiClient> {
    if (this.#api !== undefined) return this.#api;
    const profile = this.profile;
    if (profile.server !== undefined) {
      if (profile.apiKey === undefined) {
        throw new VprError(
          'UNAUTHENTICATED',
          'set VPR_API_KEY (or api_key in the profile) to talk to a server',
        );
      }
      this.#api = new RemoteApi(profile.server, profile.apiKey);
    } else {
      const config = loadConfig();
      this.#api = await LocalApi.open(
        { author: profile.author, careLocation: profile.careLocation ?? config.careLocation },
        config,
        local,
      );
    }
    return this.#api;
  }

  /** A read, or a write that is never signed (it makes no commit). */
  async send(request: ApiRequest): Promise<ApiAnswer> {
    return (await this.api()).send(request);
  }

  /**
   * A write: signed in two steps when a signer is configured (or given), else sent as it is.
   * Multipart bodies (letters with attachments) are sent as they are.
   */
  async write(request: ApiRequest, signer?: SignerFiles): Promise<WriteOutcome> {
    const api = await this.api();
    const chosen = signer ?? (await this.#signer());
    if (chosen === undefined || Buffer.isBuffer(request.body)) {
      return { signed: false, answer: await api.send(request) };
    }
    const outcome = await signedWriteVia(
      async (step) => {
        const first = step.path === request.path;
        const answer = await api.send({
          method: step.method as ApiRequest['method'],
          path: step.path,
          headers: { ...(first ? request.headers : {}), ...step.headers },
          ...(step.body === undefined ? {} : { body: step.body }),
          ...(first && request.query !== undefined ? { query: request.query } : {}),
        });
        return { status: answer.status, body: answer.body };
      },
      {
        method: request.method,
        path: request.path,
        ...(request.body === undefined ? {} : { body: request.body }),
      },
      chosen,
    );
    return { signed: true, outcome };
  }

  /** The signer of the profile: <prefix>.key.pem and <prefix>.cert.pem (plus `chain`). */
  async signerFiles(chain: readonly string[] = []): Promise<SignerFiles | undefined> {
    const files = await this.#signer();
    return files === undefined
      ? undefined
      : { ...files, certificatePems: [...files.certificatePems, ...chain] };
  }

  async #signer(): Promise<SignerFiles | undefined> {
    const prefix = this.profile.signer;
    if (prefix === undefined) return undefined;
    return {
      keyPem: await readFile(`${prefix}.key.pem`, 'utf8'),
      certificatePems: [await readFile(`${prefix}.cert.pem`, 'utf8')],
    };
  }

  async close(): Promise<void> {
    await this.#api?.close();
  }
}
