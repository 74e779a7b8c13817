// The server side of the raw TCP and TLS baselines: the same tiny protocol on
// either socket, so the two differ only by the TLS layer.
//
// On connection (after the TLS handshake, client certificate checked) the
// server writes one confirmation byte, so a client knows it was accepted as a
// PeerNet initiator does. The client's first byte then picks a mode:
//   'E'                      echo every byte back (round trips)
//   'S' u32 recordSize       sink: count records of recordSize bytes; a record
//                            whose first byte is 0xff ends the run and is
//                            answered with the count (f64 BE) of records before it
//   'B' f64 total            bytes: count the bytes that follow; once `total`
//                            have arrived, answer with the count (f64 BE). A
//                            client saturating the link sends 2^53 - 1 and
//                            just closes when done
// Anything else (or nothing) leaves the connection idle.

import type { Socket } from 'node:net';

export const CONFIRM = Buffer.of(0x21);
export const MODE_ECHO = 0x45;
export const MODE_SINK = 0x53;
export const MODE_BYTES = 0x42;
export const END_MARK = 0xff;
/** What the byte-stream figures write per call (PeerNet and baselines alike): large, so the writer's per-write cost stays out of the figure. */
export const CHUNK_BYTES = 256 * 1024;

/** Serves one accepted (and, for TLS, authenticated) socket. */
export function serveStream(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.write(CONFIRM);
  let header: Buffer = Buffer.alloc(0);
  const onHeader = (chunk: Buffer): void => {
    header = header.length === 0 ? chunk : Buffer.concat([header, chunk]);
    const mode = header[0];
    if (mode === MODE_ECHO) {
      socket.off('data', onHeader);
      socket.on('data', (data: Buffer) => socket.write(data));
      if (header.length > 1) socket.write(header.subarray(1));
    } else if (mode === MODE_SINK) {
      if (header.length < 5) return;
      socket.off('data', onHeader);
      const sink = sinkOf(socket, header.readUInt32BE(1));
      socket.on('data', sink);
      if (header.length > 5) sink(header.subarray(5));
    } else if (mode === MODE_BYTES) {
      if (header.length < 9) return;
      socket.off('data', onHeader);
      const counter = byteCounter(socket, header.readDoubleBE(1));
      socket.on('data', counter);
      if (header.length > 9) counter(header.subarray(9));
    } else {
      socket.off('data', onHeader);
    }
  };
  socket.on('data', onHeader);
}

function sinkOf(socket: Socket, recordSize: number): (chunk: Buffer) => void {
  let at = 0; // bytes into the current record
  let records = 0;
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (at === 0) {
        if (chunk[i] === END_MARK) {
          const reply = Buffer.alloc(8);
          reply.writeDoubleBE(records);
          socket.write(reply);
          records = 0;
        } else {
          records++;
        }
      }
      const take = Math.min(recordSize - at, chunk.length - i);
      i += take;
      at += take;
      if (at === recordSize) at = 0;
    }
  };
}

function byteCounter(socket: Socket, total: number): (chunk: Buffer) => void {
  let received = 0;
  return (chunk) => {
    received += chunk.length;
    if (received === total) {
      const reply = Buffer.alloc(8);
      reply.writeDoubleBE(received);
      socket.write(reply);
    } else if (received > total) {
      socket.destroy(new Error(`received ${received} bytes of ${total}`));
    }
  };
}
