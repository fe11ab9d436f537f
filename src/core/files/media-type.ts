// Guessing the media type of an uploaded file from its first bytes. The guess is best-effort:
// it comes from magic numbers (file-type) and, failing those, from whether the bytes read as
// UTF-8 text. It is a hint for display and download only and is NOT authoritative for clinical
// purposes: nothing may decide what a document is, or how it is handled clinically, from it.
import { fileTypeFromBuffer } from 'file-type';

/** How many leading bytes the sniffer looks at (file-type's own sample size). */
export const SNIFF_BYTES = 4100;

export const OCTET_STREAM = 'application/octet-stream';
export const TEXT_PLAIN = 'text/plain';

export interface SniffOptions {
  /**
   * True when `head` is the whole file. By default it is taken to be the first bytes of a
   * longer file, so a multi-byte character cut at the end of the sample is not held against it.
   */
  readonly complete?: boolean;
}

/** The media type of a file whose first bytes are `head` (only the first SNIFF_BYTES are read). */
export async function sniffMediaType(head: Uint8Array, options: SniffOptions = {}): Promise<string> {
  const sample = head.subarray(0, SNIFF_BYTES);
  if (sample.length === 0) return OCTET_STREAM;
  const complete = options.complete === true && head.length <= SNIFF_BYTES;
  try {
    const known = await fileTypeFromBuffer(sample);
    if (known !== undefined) return known.mime;
  } catch {
    // A parser inside file-type gave up on malformed bytes: fall back to the text check.
  }
  return looksLikeText(sample, complete) ? TEXT_PLAIN : OCTET_STREAM;
}

/** No NUL byte, and valid UTF-8 (allowing for a character cut by the end of a partial sample). */
function looksLikeText(sample: Uint8Array, complete: boolean): boolean {
  if (sample.includes(0)) return false;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    // In streaming mode an incomplete sequence at the very end is held back, not refused;
    // the final call refuses it, which only a complete file should face.
    decoder.decode(sample, { stream: true });
    if (complete) decoder.decode();
    return true;
  } catch {
    return false;
  }
}
