import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { RawAddress } from './raw-peer.js';

/**
 * Opens `count` TCP connections to `address` at once and leaves them idle
 * (nothing is written). Resolves with the sockets that connected; errors are
 * swallowed, since the node is expected to close them.
 */
export async function openIdle(address: RawAddress, count: number): Promise<Socket[]> {
  const sockets = Array.from({ length: count }, () => {
    const socket = connect({ host: address.host ?? '127.0.0.1', port: address.port });
    socket.on('error', () => undefined);
    return socket;
  });
  await Promise.all(
    sockets.map((socket) => Promise.race([once(socket, 'connect'), once(socket, 'close')]).catch(() => undefined)),
  );
  return sockets;
}

/** Destroys sockets and resolves once every one of them has closed. */
export async function closeAll(sockets: readonly Socket[]): Promise<void> {
  await Promise.all(
    sockets.map((socket) => {
      const closed = socket.closed ? Promise.resolve() : once(socket, 'close').then(() => undefined);
      socket.destroy();
      return closed;
    }),
  );
}

/**
 * Connects and immediately closes, `count` times, `parallel` at a time: the
 * connect/close churn a node must absorb without keeping anything per socket.
 * `reset` closes with RST instead of FIN.
 */
export async function churn(address: RawAddress, count: number, options: { parallel?: number; reset?: boolean } = {}): Promise<number> {
  const parallel = options.parallel ?? 50;
  let next = 0;
  let connected = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const socket = connect({ host: address.host ?? '127.0.0.1', port: address.port });
      socket.on('error', () => undefined);
      const closed = once(socket, 'close');
      const ok = await Promise.race([once(socket, 'connect').then(() => true), closed.then(() => false)]);
      if (ok) connected++;
      if (options.reset) socket.resetAndDestroy();
      else socket.end();
      await closed;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return connected;
}
