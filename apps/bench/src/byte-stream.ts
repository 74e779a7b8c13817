// The byte-stream helpers of the stream figures, shared by the loopback
// workers (worker.ts) and the DHT figures' processes (dht-node.ts): the
// server's sink stream that counts what it reads and answers with the count,
// and the writer that honours backpressure. The raw HyperDHT baseline
// (dht_raw_stream_mb_per_s) uses the same writer and reply on a plain
// HyperDHT socket, with a sink that answers once all the bytes arrived.
import { once } from 'node:events';
import type { Duplex, Writable } from 'node:stream';
import { CHUNK_BYTES } from './stream-server.js';

/** The stream a PeerNet server exposes: counts the bytes, answers with the count (f64 BE) when the writer ends. */
export const SINK_STREAM = 'bench-sink';

export const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The server side of a PeerNet sink stream: counts the bytes; when the writer
 * ends its side, answers with the count (f64 BE) and ends ours. Resolves once
 * the stream is closed, so the handler holds it open until then.
 */
export function countStream(stream: Duplex): Promise<void> {
  let received = 0;
  stream.on('data', (chunk: Uint8Array) => {
    received += chunk.length;
  });
  stream.once('end', () => {
    const reply = Buffer.alloc(8);
    reply.writeDoubleBE(received);
    stream.end(reply);
  });
  // A writer that gives up (its process stopping) is not this side's failure.
  stream.on('error', () => undefined);
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

/**
 * The server side of the raw HyperDHT baseline: counts the bytes of a plain
 * socket; once `total` have arrived, answers with the count (f64 BE) at once
 * (no end of the writer's side needed), and ends its side when the writer
 * ends. More than `total` bytes fail the socket. Resolves once it is closed.
 */
export function countToTotal(socket: Duplex, total: number): Promise<void> {
  let received = 0;
  socket.on('data', (chunk: Uint8Array) => {
    const before = received;
    received += chunk.length;
    if (received > total) socket.destroy(new Error(`received ${received} of ${total} bytes`));
    else if (received === total && before < total) {
      const reply = Buffer.alloc(8);
      reply.writeDoubleBE(received);
      socket.write(reply);
    }
  });
  socket.once('end', () => socket.end());
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Options of `pump`. */
export interface PumpOptions {
  /** Stop before the next write once this returns true. */
  stopped?: () => boolean;
  /** Called after each write with the bytes written so far. */
  progress?: (written: number) => void;
  /**
   * Let the event loop turn once per chunk. A raw socket's 'drain' can come
   * in the same turn (the kernel took the whole write), so a writer that only
   * waits for 'drain' may keep its process from reading anything else for
   * milliseconds: the load of the round-trip figure yields, so that figure
   * measures the connection's queueing, not a writer that starves its own process.
   */
  yieldEachChunk?: boolean;
}

/**
 * Writes up to `total` bytes in CHUNK_BYTES writes, waiting for 'drain'
 * whenever write() returns false (so the writer never runs ahead of the
 * transport's flow control), until done or stopped. Returns the bytes written.
 */
export async function pump(out: Writable, total: number, options: PumpOptions = {}): Promise<number> {
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x5a);
  let written = 0;
  while (written < total && !options.stopped?.()) {
    const piece = total - written >= chunk.length ? chunk : chunk.subarray(0, total - written);
    written += piece.length;
    const more = out.write(piece);
    options.progress?.(written);
    // once() rejects if the stream errors while we wait.
    if (!more) await once(out, 'drain');
    if (options.yieldEachChunk) await immediate();
  }
  return written;
}

/** Resolves with the f64 BE count the server answers with (its first 8 bytes). */
export function countReply(source: Duplex): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const done = (): void => {
      source.off('data', onData);
      source.off('error', onError);
      source.off('end', onEnd);
    };
    const onData = (chunk: Uint8Array): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 8) return;
      done();
      // Keep reading (and discarding) so the stream can end; what goes wrong after the count is not the figure's.
      source.on('error', () => undefined);
      source.resume();
      resolve(buffered.readDoubleBE(0));
    };
    const onError = (error: Error): void => {
      done();
      reject(error);
    };
    const onEnd = (): void => {
      done();
      reject(new Error(`the stream ended after ${buffered.length} bytes of the count`));
    };
    source.on('data', onData);
    source.once('error', onError);
    source.once('end', onEnd);
  });
}

/**
 * The writer of the raw HyperDHT baseline (dht_raw_stream_mb_per_s): `total`
 * bytes through an open socket whose other side runs `countToTotal`, in
 * CHUNK_BYTES writes that honour backpressure, exactly as
 * `peerNetStreamMbPerS` writes. MB/s (10^6 bytes) from the first write to the
 * answer that all have arrived; the count must match. The socket is left to
 * the caller (still open).
 */
export async function rawStreamMbPerS(socket: Duplex, total: number): Promise<number> {
  const reply = countReply(socket);
  const started = performance.now();
  await pump(socket, total);
  const counted = await reply;
  const seconds = (performance.now() - started) / 1000;
  if (counted !== total) throw new Error(`the server counted ${counted} of ${total} bytes`);
  return total / seconds / 1e6;
}

/**
 * The PeerNet side of `stream_mb_per_s`: `total` bytes through one new
 * stream to `peer`'s sink, in CHUNK_BYTES writes that honour backpressure,
 * then `end()`. MB/s (10^6 bytes) from the first write to the server's
 * answer that it has read them all; the count must match.
 */
export async function peerNetStreamMbPerS(
  node: { openStream(peer: string, name: string): Promise<Duplex> },
  peer: string,
  total: number,
): Promise<number> {
  const stream = await node.openStream(peer, SINK_STREAM);
  const reply = countReply(stream);
  const started = performance.now();
  await pump(stream, total);
  stream.end();
  const counted = await reply;
  const seconds = (performance.now() - started) / 1000;
  if (!stream.destroyed) await once(stream, 'close');
  if (counted !== total) throw new Error(`the server counted ${counted} of ${total} bytes`);
  return total / seconds / 1e6;
}
