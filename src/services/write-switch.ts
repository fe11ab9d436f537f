// The write kill-switch: when an administrator turns writes off (or the service starts with
// VPR_READ_ONLY), every operation that would commit answers READ_ONLY and nothing is written;
// reads go on. Per process: each node of a deployment is switched on its own.
import { VprError } from '../core/errors.js';

export class WriteSwitch {
  #readOnly: boolean;
  #changedAt: Date;

  constructor(readOnly = false) {
    this.#readOnly = readOnly;
    this.#changedAt = new Date();
  }

  get readOnly(): boolean {
    return this.#readOnly;
  }

  get changedAt(): Date {
    return this.#changedAt;
  }

  set(readOnly: boolean): void {
    if (readOnly !== this.#readOnly) this.#changedAt = new Date();
    this.#readOnly = readOnly;
  }

  assertWritable(): void {
    if (this.#readOnly) {
      throw new VprError('READ_ONLY', 'the service is in read-only mode; no changes are accepted now');
    }
  }
}
