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
// Anything else (or nothing) leaves the connection idle.

import type { Socket } from 'node:net';

export const CONFIRM = Buffer.of(0x21);
export const MODE_ECHO = 0x45;
export const MODE_SINK = 0x53;
export const END_MARK = 0xff;

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
