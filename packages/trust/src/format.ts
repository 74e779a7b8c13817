import { PeerId } from '@peernet/interface';
import { CorruptTrustStoreError } from './errors.js';
import type { TrustEntry } from './store.js';

/** Version written in the `version` field of trust files. */
export const TRUST_FILE_VERSION = 1;

/** Longest label accepted, in UTF-16 code units. */
export const MAX_LABEL_LENGTH = 1024;

const TOP_LEVEL_KEYS = new Set(['version', 'peers']);
const ENTRY_KEYS = new Set(['id', 'label', 'addedAt']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Serialises entries (in order) into the JSON trust file format, UTF-8 encoded. */
export function serializeTrustFile(entries: readonly TrustEntry[]): Uint8Array {
  const document = {
    version: TRUST_FILE_VERSION,
    peers: entries.map((entry) => ({
      id: entry.id.toString(),
      label: entry.label ?? null,
      addedAt: entry.addedAt,
    })),
  };
  return new TextEncoder().encode(`${JSON.stringify(document, null, 2)}\n`);
}

/**
 * Parses a trust file. Anything but a well-formed version 1 document with
 * valid, unique, canonical peer ids throws `CorruptTrustStoreError` naming
 * `path`: an unreadable allowlist is never taken to be an empty one. A file
 * of a newer version is refused with a message saying to upgrade, not to
 * repair it.
 */
export function parseTrustFile(bytes: Uint8Array, path = '(trust file)'): TrustEntry[] {
  const fail = (reason: string, cause?: unknown): never => {
    throw new CorruptTrustStoreError(
      `trust store ${path} is corrupt: ${reason}. ` +
        'It was not loaded, so no peer is trusted from it; repair the file or move it away.',
      { path, cause },
    );
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    return fail('not valid UTF-8', error);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return fail(`not valid JSON (${error instanceof Error ? error.message : String(error)})`, error);
  }
  if (!isPlainObject(document)) return fail('the top level is not a JSON object');
  const version = Object.hasOwn(document, 'version') ? document['version'] : undefined;
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > TRUST_FILE_VERSION) {
    // Before the field checks, as a newer format may add fields. The file is not damaged:
    // this code is too old for it, and "repairing" it would lose what the newer one wrote.
    throw new CorruptTrustStoreError(
      `trust store ${path} was written by a newer version of PeerNet (file version ${version}; this version reads version ${TRUST_FILE_VERSION}). ` +
        'It was not loaded, so no peer is trusted from it; upgrade PeerNet to use it.',
      { path },
    );
  }
  // Object.keys / Object.hasOwn only: a "__proto__" key stays a plain (rejected) key.
  for (const key of Object.keys(document)) {
    if (!TOP_LEVEL_KEYS.has(key)) fail(`unknown top-level field ${JSON.stringify(key)}`);
  }
  if (!Object.hasOwn(document, 'version')) fail('no "version" field');
  if (version !== TRUST_FILE_VERSION) {
    fail(`unsupported version ${JSON.stringify(version)} (this version reads version ${TRUST_FILE_VERSION})`);
  }
  const peers = document['peers'];
  if (!Array.isArray(peers)) return fail('"peers" is not an array');

  const entries: TrustEntry[] = [];
  const seen = new Set<string>();
  peers.forEach((raw: unknown, index) => {
    const where = `peers[${index}]`;
    if (!isPlainObject(raw)) return fail(`${where} is not an object`);
    for (const key of Object.keys(raw)) {
      if (!ENTRY_KEYS.has(key)) fail(`${where} has an unknown field ${JSON.stringify(key)}`);
    }
    const idText = raw['id'];
    if (typeof idText !== 'string') return fail(`${where}.id is not a string`);
    let id: PeerId;
    try {
      id = PeerId.parse(idText);
    } catch (error) {
      return fail(`${where}.id is not a valid peer id (${(error as Error).message})`, error);
    }
    if (id.toString() !== idText) fail(`${where}.id is not in canonical base32 form`);
    if (seen.has(idText)) fail(`${where}.id ${idText} appears more than once`);
    seen.add(idText);

    const label = Object.hasOwn(raw, 'label') ? raw['label'] : null;
    if (label !== null && typeof label !== 'string') fail(`${where}.label is neither a string nor null`);
    if (typeof label === 'string' && label.length > MAX_LABEL_LENGTH) {
      fail(`${where}.label is longer than ${MAX_LABEL_LENGTH} characters`);
    }
    const addedAt = raw['addedAt'];
    if (typeof addedAt !== 'number' || !Number.isSafeInteger(addedAt) || addedAt < 0) {
      fail(`${where}.addedAt is not a non-negative integer number of milliseconds`);
    }
    entries.push(
      Object.freeze({ id, label: typeof label === 'string' ? label : undefined, addedAt: addedAt as number }),
    );
  });
  return entries;
}
