// The file stream behind `peernet serve --accept-files` and `peernet send-file`.
//
// One file per byte stream named `peernet.file`:
//   sender → receiver: a 4-byte big-endian length L (1 to 4096), then L bytes
//     of UTF-8 JSON `{"name": string, "size": integer, "sha256"?: 64 lower-case
//     hex digits}`, then exactly `size` bytes of content, then the end of its side.
//   receiver → sender: one line of UTF-8 JSON ending in "\n", then the end of its side:
//     `{"ok":true,"name","bytes","sha256"}` once the file is in place, or
//     `{"ok":false,"code","message"}` when it is refused or failed.
// A refusal that comes while the sender is still sending is followed by a
// reset of the stream (code `bad_request`, `handler_error` or `timeout`), so a
// refused 4 GiB file is not read to its end; the status line goes first, so
// the sender learns the exact code and reason.
//
// The receiver writes into a temporary file in the target directory, fsyncs
// it, then moves it into place and fsyncs the directory: a file appears whole
// or not at all, and any failure (a reset, a lost session, a bad byte count)
// removes the temporary file.
import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BadRequestError, HandlerError, TimeoutError, errorMessage, type PeerNetError } from 'peernet';
import { CliError } from './exit.js';

/** The stream name `peernet serve --accept-files` exposes. */
export const FILE_STREAM = 'peernet.file';

/** Largest header, in bytes of JSON (the 4-byte length not counted). */
export const MAX_HEADER_BYTES = 4096;

/** Largest status line a sender reads. */
export const MAX_STATUS_BYTES = 4096;

/** The default of `--max-file-bytes`: 4 GiB. */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 ** 3;

/** Longest file name, in bytes of UTF-8 (the limit of common file systems). */
export const MAX_NAME_BYTES = 255;

// A transfer that brings no byte for this long is given up, so a stalled
// sender cannot hold a temporary file and a stream open for ever.
const DEFAULT_IDLE_MS = 60_000;

/** What the sender says about the file before its bytes. */
export interface FileHeader {
  readonly name: string;
  readonly size: number;
  /** When given, the receiver refuses content with another SHA-256 (and keeps nothing). */
  readonly sha256?: string;
}

/** The receiver's answer. */
export type FileStatus =
  | { readonly ok: true; readonly name: string; readonly bytes: number; readonly sha256: string }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** A file name as messages show it: quoted (it may come from a peer) and cut short. */
export function shownName(name: unknown): string {
  const text = typeof name === 'string' ? name : String(name);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

// A UTF-16 surrogate without its pair: JSON may carry one, no file system name can.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `name` cannot be the name of a received file, or undefined when it
 * can: only a plain base name, so no name can reach outside the directory.
 */
export function fileNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'the file name is empty';
  if (name === '.' || name === '..') return `${shownName(name)} is not a file name`;
  if (/[/\\]/.test(name)) return `${shownName(name)} contains a path separator ("/" or "\\"): only a plain file name is accepted`;
  // NUL ends a path in the system calls; the other control characters would garble the lines that print the name.
  if (/[\u0000-\u001f\u007f]/.test(name)) return `${shownName(name)} contains NUL or a control character`;
  if (LONE_SURROGATE.test(name)) return `${shownName(name)} is not valid Unicode`;
  // On Windows `C:name` is relative to a drive and `name:x` names a hidden stream of another file.
  if (process.platform === 'win32' && name.includes(':')) return `${shownName(name)} contains ":"`;
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `${shownName(name)} is longer than ${MAX_NAME_BYTES} bytes`;
  if (isAbsolute(name) || basename(name) !== name) return `${shownName(name)} is not a plain file name`;
  return undefined;
}

/** The header as it goes on the wire: its length, then its JSON. */
export function encodeHeader(header: FileHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length > MAX_HEADER_BYTES) {
    throw new CliError('invalid_argument', `the header of ${shownName(header.name)} is ${json.length} bytes, above ${MAX_HEADER_BYTES}: use a shorter --name`);
  }
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json]);
}

/** Parses and checks a header's JSON; a refusal is `bad_request` with the reason. */
export function parseHeader(json: Uint8Array): FileHeader {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (error) {
    throw new CliError('bad_request', `the file header is not UTF-8 JSON: ${errorMessage(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliError('bad_request', 'the file header is not a JSON object');
  }
  const { name, size, sha256 } = value as Record<string, unknown>;
  const problem = fileNameProblem(name);
  if (problem !== undefined) throw new CliError('bad_request', `refused file name: ${problem}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new CliError('bad_request', `the size of ${shownName(name)} must be a whole number of bytes, got ${JSON.stringify(size)}`);
  }
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) {
    throw new CliError('bad_request', 'the sha256 of the file header must be 64 lower-case hex digits');
  }
  return { name: name as string, size, ...(sha256 === undefined ? {} : { sha256 }) };
}

/**
 * Reads a byte stream on demand: nothing is taken from the stream before it
 * is asked for, so the peer's credit (its flow control) follows how fast the
 * bytes are written to disk.
 */
class ByteReader {
  readonly #stream: Readable;
  readonly #idleMs: number;
  #pending: Buffer | undefined;
  #ended = false;
  #failure: unknown;
  #wake: (() => void) | undefined;

  constructor(stream: Readable, idleMs: number) {
    this.#stream = stream;
    this.#idleMs = idleMs;
    stream.on('readable', this.#onReadable);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
  }

  /** The next bytes, at most `max` of them; null at the end of the stream. */
  async chunk(max: number): Promise<Buffer | null> {
    let data = this.#pending;
    this.#pending = undefined;
    while (data === undefined) {
      if (this.#failure !== undefined) throw this.#failure;
      const read = this.#stream.read() as Buffer | null;
      if (read !== null) data = read;
      else if (this.#ended) return null;
      else await this.#next();
    }
    if (data.length > max) {
      this.#pending = data.subarray(max);
      data = data.subarray(0, max);
    }
    return data;
  }

  /** Exactly `n` bytes; `what` names them when the stream ends first. */
  async exactly(n: number, what: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const part = await this.chunk(n - have);
      if (part === null) throw new CliError('bad_request', `the stream ended inside the ${what} (${have} of ${n} bytes)`);
      parts.push(part);
      have += part.length;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  /** Stops listening (an error listener stays: a late error must not crash the process). */
  close(): void {
    this.#stream.off('readable', this.#onReadable);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onClose);
    this.#stream.off('error', this.#onError);
    this.#stream.on('error', () => undefined);
  }

  #next(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#failure ??= new CliError('timeout', `no byte arrived for ${this.#idleMs / 1000} s`);
        this.#wakeUp();
      }, this.#idleMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  readonly #onReadable = (): void => this.#wakeUp();
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#wakeUp();
  };
  readonly #onError = (error: Error): void => {
    this.#failure ??= error;
    this.#wakeUp();
  };
  readonly #onClose = (): void => {
    // Closed without an end and without an error: destroyed on this side (the node stopping).
    if (!this.#ended) this.#failure ??= new CliError('connection_closed', 'the stream closed before the file was complete');
    this.#wakeUp();
  };
}

/** Where and how `receiveFile` stores files. */
export interface ReceiveOptions {
  /** The directory files go into. */
  readonly dir: string;
  /** Largest file accepted; a larger one is refused before any byte is written. */
  readonly maxBytes: number;
  /** Replace an existing file of the same name (else it is refused with `file_exists`). */
  readonly overwrite: boolean;
  /** Give up after this long without a byte (default 60 s). */
  readonly idleMs?: number;
}

/** How one incoming file went: its name as far as it is known, and the file or why not. */
export type ReceiveOutcome =
  | { readonly ok: true; readonly name: string; readonly bytes: number; readonly sha256: string; readonly path: string }
  | { readonly ok: false; readonly name: string | undefined; readonly error: CliError };

/**
 * Receives one file from `stream` into `options.dir` and answers the sender
 * with its status. Never rejects: the outcome says what happened, and on any
 * failure the temporary file is gone.
 */
export async function receiveFile(stream: Duplex, options: ReceiveOptions): Promise<ReceiveOutcome> {
  const reader = new ByteReader(stream, options.idleMs ?? DEFAULT_IDLE_MS);
  let name: string | undefined;
  let temp: { path: string; handle: FileHandle | undefined } | undefined;
  try {
    const length = (await reader.exactly(4, 'header length')).readUInt32BE(0);
    if (length === 0 || length > MAX_HEADER_BYTES) {
      throw new CliError('bad_request', `the file header is ${length} bytes; it must be 1 to ${MAX_HEADER_BYTES}`);
    }
    const header = parseHeader(await reader.exactly(length, 'header'));
    name = header.name;
    if (header.size > options.maxBytes) {
      throw new CliError(
        'file_too_large',
        `${shownName(name)} is ${header.size} bytes, more than the ${options.maxBytes} this node accepts (--max-file-bytes)`,
      );
    }
    const target = join(options.dir, name);
    // Checked again, without a race, when the file is moved into place; this check spares sending it for nothing.
    if (!options.overwrite && (await exists(target))) throw fileExists(name);

    const tempPath = join(options.dir, temporaryName(name));
    // 'wx': never follows or reuses what is there; 0o600: nobody else reads a file before it is complete.
    temp = { path: tempPath, handle: await open(tempPath, 'wx', 0o600) };
    const hash = createHash('sha256');
    let received = 0;
    while (received < header.size) {
      const chunk = await reader.chunk(header.size - received);
      if (chunk === null) {
        throw new CliError('bad_request', `the sender ended after ${received} of the ${header.size} bytes of ${shownName(name)}`);
      }
      hash.update(chunk);
      await writeAll(temp.handle as FileHandle, chunk);
      received += chunk.length;
    }
    if ((await reader.chunk(1)) !== null) {
      throw new CliError('bad_request', `the sender sent more than the ${header.size} bytes it announced for ${shownName(name)}`);
    }
    const sha256 = hash.digest('hex');
    if (header.sha256 !== undefined && header.sha256 !== sha256) {
      throw new CliError('bad_request', `the content of ${shownName(name)} does not match the sha256 of its header`);
    }
    const handle = temp.handle as FileHandle;
    await handle.sync();
    temp.handle = undefined;
    await handle.close();
    await moveIntoPlace(temp.path, target, options.overwrite, name);
    temp = undefined;
    await syncDirectory(options.dir);
    // The file is in place: whether the sender still hears of it does not change that.
    await answer(stream, { ok: true, name, bytes: received, sha256 });
    return { ok: true, name, bytes: received, sha256, path: target };
  } catch (caught) {
    if (temp !== undefined) {
      await temp.handle?.close().catch(() => undefined);
      await unlink(temp.path).catch(() => undefined);
    }
    const error = asTransferError(caught, name);
    await answer(stream, { ok: false, code: error.code, message: error.message });
    // The sender may still be sending: a reset stops it (after the status line, which goes first).
    if (!stream.destroyed) stream.destroy(resetError(error));
    return { ok: false, name, error };
  } finally {
    reader.close();
  }
}

/** `.name.partial-<random>` in the same directory, so the final rename never crosses file systems. */
function temporaryName(name: string): string {
  // Keeps the temporary name within the length limit whatever the final one's.
  const stem = Buffer.byteLength(name, 'utf8') <= 200 ? name : 'file';
  return `.${stem}.partial-${randomBytes(8).toString('hex')}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw error;
  }
}

function fileExists(name: string): CliError {
  return new CliError('file_exists', `${shownName(name)} already exists there (the receiver replaces files only with --overwrite)`);
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const { bytesWritten } = await handle.write(data, at, data.length - at, null);
    at += bytesWritten;
  }
}

/**
 * Moves the complete temporary file to `target`. Without `overwrite` a hard
 * link makes the name, which fails if the name exists (no window between a
 * check and a rename); file systems without hard links fall back to a check.
 */
async function moveIntoPlace(temp: string, target: string, overwrite: boolean, name: string): Promise<void> {
  if (overwrite) return rename(temp, target);
  try {
    await link(temp, target);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EEXIST') throw fileExists(name);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS' && code !== 'EXDEV') throw error;
    if (await exists(target)) throw fileExists(name);
    return rename(temp, target);
  }
  await unlink(temp);
}

/** Makes the rename durable. Windows cannot open a directory for this; its rename is already journaled. */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const TRANSFER_CODES = new Set(['bad_request', 'file_too_large', 'file_exists', 'handler_error', 'timeout']);

/** What a failure is called on both sides: our own refusals as they are, the stream's errors by code, disk errors as handler_error. */
function asTransferError(error: unknown, name: string | undefined): CliError {
  if (error instanceof CliError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && !/^E[A-Z]+$/.test(code)) return new CliError(code, errorMessage(error));
  const what = name === undefined ? 'the file' : shownName(name);
  return new CliError('handler_error', `could not store ${what}: ${errorMessage(error)}`);
}

/** The reset that follows a refusal: a code that may travel, for a sender that missed the status line. */
function resetError(error: CliError): PeerNetError {
  if (error.code === 'timeout') return new TimeoutError(error.message);
  if (error.code === 'handler_error') return new HandlerError(error.message);
  return new BadRequestError(error.message);
}

/** Writes the status line and ends our side; resolves once it is handed to the stream (or the stream is gone). */
async function answer(stream: Duplex, status: FileStatus): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('close', done);
      resolve();
    };
    stream.once('close', done);
    stream.end(`${JSON.stringify(status)}\n`, done);
  });
}

/** The file `sendFile` sends: an open handle and the byte count announced. */
export interface OutgoingFile {
  readonly handle: FileHandle;
  readonly size: number;
  readonly name: string;
  /** Where it was read from, for messages. */
  readonly path: string;
}

/** What the receiver confirmed. */
export interface SentFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

// Codes a receiver may answer with that the CLI reports as they are; any other becomes handler_error.
const REMOTE_CODES = new Set([...TRANSFER_CODES, 'forbidden']);

/**
 * Sends `file` on `stream` with flow control (a pipeline: reading waits for
 * the peer's credit), then waits for the receiver's status. Resolves once
 * the receiver has the file in place; rejects with its refusal (its code and
 * reason), or with why the stream failed.
 */
export async function sendFile(stream: Duplex, file: OutgoingFile): Promise<SentFile> {
  const status = readStatus(stream);
  const hash = createHash('sha256');
  let sent = 0;
  async function* content(): AsyncGenerator<Buffer> {
    yield encodeHeader({ name: file.name, size: file.size });
    if (file.size > 0) {
      // Exactly the announced bytes: a file that grows meanwhile is cut, one that shrinks is caught below.
      for await (const chunk of file.handle.createReadStream({ start: 0, end: file.size - 1, autoClose: false })) {
        hash.update(chunk as Buffer);
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    if (sent !== file.size) {
      throw new CliError('file_changed', `${file.path} shrank while it was sent (${sent} of ${file.size} bytes): nothing was kept`);
    }
  }
  let sendError: unknown;
  try {
    await pipeline(content, stream);
  } catch (error) {
    sendError = error;
    // A failure on our side (reading the file) must reach the receiver, which then drops the partial file.
    if (!stream.destroyed) stream.destroy(error as Error);
  }
  const answer = await status;
  if (answer.status?.ok === false) throw remoteRefusal(answer.status, file.name);
  if (sendError !== undefined) throw withPrintableMessage(sendError);
  if (answer.status === undefined) {
    throw withPrintableMessage(answer.error) ?? new CliError('protocol_error', `the receiver ended the stream without saying whether it stored ${shownName(file.name)}`);
  }
  const digest = hash.digest('hex');
  if (answer.status.sha256 !== digest || answer.status.bytes !== file.size) {
    throw new CliError(
      'protocol_error',
      `the receiver reports ${answer.status.bytes} bytes with sha256 ${answer.status.sha256}, but ${file.size} bytes with sha256 ${digest} were sent`,
    );
  }
  return { name: answer.status.name, bytes: answer.status.bytes, sha256: digest };
}

/**
 * Collects the receiver's status line. Flowing mode, so the line is taken
 * the moment it arrives, even when a reset follows it at once. Resolves with
 * the status, or with the stream's error when no complete line came.
 */
function readStatus(stream: Duplex): Promise<{ status?: FileStatus; error?: unknown }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      const text = Buffer.concat(parts).toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) {
        resolve({ error: error ?? new CliError('protocol_error', 'the receiver answered without a status line') });
        return;
      }
      try {
        resolve({ status: parseStatus(text.slice(0, newline)) });
      } catch (parseError) {
        resolve({ error: parseError });
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_STATUS_BYTES) {
        settle(new CliError('protocol_error', `the receiver's status is longer than ${MAX_STATUS_BYTES} bytes`));
        stream.destroy();
        return;
      }
      parts.push(chunk);
      if (chunk.includes(0x0a)) settle();
    };
    const onEnd = (): void => settle();
    stream.on('data', onData);
    stream.on('end', onEnd);
    // Stays after settling: a late error of the stream must not crash the process.
    stream.on('error', (error) => settle(error));
    stream.once('close', () => settle(new CliError('connection_closed', 'the stream closed before the receiver answered')));
  });
}

function parseStatus(line: string): FileStatus {
  const bad = (): CliError => new CliError('protocol_error', 'the receiver answered with something that is not a file status');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw bad();
  }
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null) throw bad();
  if (v['ok'] === true && typeof v['name'] === 'string' && Number.isSafeInteger(v['bytes']) && typeof v['sha256'] === 'string') {
    return { ok: true, name: v['name'], bytes: v['bytes'] as number, sha256: v['sha256'] };
  }
  if (v['ok'] === false && typeof v['code'] === 'string' && typeof v['message'] === 'string') {
    return { ok: false, code: v['code'], message: v['message'] };
  }
  throw bad();
}

/** Text from a peer made safe to print: control characters (terminal escape sequences) become spaces, and it is cut short. */
export function printable(text: string, max = 500): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, max);
}

/** An error that may carry a peer's text (a reset's reason), with that text made printable; its code is kept. */
export function withPrintableMessage(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof CliError || !(error instanceof Error) || typeof code !== 'string') return error;
  return new CliError(code, printable(error.message));
}

/** The receiver's refusal as an error of ours: a code we know (else handler_error), its text cleaned for a terminal. */
function remoteRefusal(status: { code: string; message: string }, name: string): CliError {
  const code = REMOTE_CODES.has(status.code) ? status.code : 'handler_error';
  // The text comes from the peer: no escape sequences reach the user's terminal.
  return new CliError(code, `the peer did not store ${shownName(name)}: ${printable(status.message)}`);
}
