// The local status channel of a running `peernet serve`: a Unix socket in the
// data dir (a named pipe on Windows) that answers every connection with one
// JSON snapshot and closes. `peernet peers` reads it for live status. Only
// the owner of the data dir (0700) can reach the socket; it accepts no input.
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/** What a running node reports about itself and its peers. */
export interface Snapshot {
  readonly pid: number;
  readonly id: string;
  readonly listening: string;
  /** Per paired peer: its live status, where it can be dialled, and the transport of its session (`tcp`, `dht`) when online. */
  readonly peers: readonly { id: string; status: string; address: string | null; transport?: string | null }[];
}

/** Largest snapshot read (a node with some ten thousand peers). */
const MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024;

/** Where the node running on `dataDir` answers. */
export function controlPath(dataDir: string): string {
  if (process.platform === 'win32') {
    return `\\\\.\\pipe\\peernet-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
  }
  return join(dataDir, 'serve.sock');
}

/** Asks the node running on `dataDir` for its snapshot; undefined when none runs there. */
export function querySnapshot(dataDir: string, timeoutMs = 2_000): Promise<Snapshot | undefined> {
  return new Promise((resolve) => {
    const socket = connect(controlPath(dataDir));
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (snapshot: Snapshot | undefined): void => {
      socket.destroy();
      resolve(snapshot);
    };
    socket.setTimeout(timeoutMs, () => finish(undefined));
    socket.on('error', () => finish(undefined));
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SNAPSHOT_BYTES) return finish(undefined);
      chunks.push(chunk);
    });
    socket.on('end', () => {
      try {
        finish(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Snapshot);
      } catch {
        finish(undefined);
      }
    });
  });
}

/**
 * Starts answering on `dataDir`'s control path. Rejects with `already_running`
 * when another node answers there; replaces a socket left by a crashed one.
 */
export async function serveSnapshots(dataDir: string, snapshot: () => Snapshot): Promise<{ close(): Promise<void> }> {
  const path = controlPath(dataDir);
  if (await querySnapshot(dataDir)) {
    throw Object.assign(new Error(`another peernet serve is running on ${dataDir}`), { code: 'already_running' });
  }
  if (process.platform !== 'win32') await unlink(path).catch(() => undefined);
  const server: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.end(JSON.stringify(snapshot()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        // Closing the server removes a Unix socket file too.
        server.close(() => resolve());
      }),
  };
}
