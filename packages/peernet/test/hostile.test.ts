import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'peernet';
import { cleanup, connected, startNode } from './helpers.js';

afterEach(cleanup);

/** A logger that records warnings. */
function recorder(): Logger & { warnings: Array<{ message: string; details?: Record<string, unknown> }> } {
  const warnings: Array<{ message: string; details?: Record<string, unknown> }> = [];
  return { warnings, warn: (message, details) => void warnings.push({ message, ...(details ? { details } : {}) }) };
}

async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  return socket;
}

describe('a node under hostile bytes', () => {
  it.each([
    ['garbage', Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello, not Noise')],
    ['a truncated message 1', Uint8Array.of(0x00, 0x20, 1, 2, 3)],
    ['an oversized frame', Uint8Array.of(0xff, 0xff, 0, 0, 0)],
    ['an empty frame', Uint8Array.of(0x00, 0x00)],
  ])('closes a connection that sends %s, logs why, and keeps serving others', async (_, bytes) => {
    const logger = recorder();
    const b = await startNode({ logger, handshakeTimeoutMs: 2000 });
    const a = await startNode();
    b.expose('echo', (x) => x);
    await connected(a, b);
    const raw = await rawSocket(b.port);
    const closed = once(raw, 'close');
    raw.end(bytes);
    await closed;
    const warning = logger.warnings.find((w) => w.message === 'inbound handshake failed');
    expect(warning?.details).toMatchObject({ code: 'handshake_failed', reason: expect.any(String) });
    await expect(a.call(b.id, 'echo', 'still here')).resolves.toBe('still here');
  });

  it('closes 100 connections that never finish the handshake at the timeout, while a real peer connects', async () => {
    const logger = recorder();
    const b = await startNode({ logger, handshakeTimeoutMs: 1500 });
    const a = await startNode();
    b.expose('echo', (x) => x);
    const loris = await Promise.all(Array.from({ length: 100 }, () => rawSocket(b.port)));
    const allClosed = Promise.all(loris.map((s) => once(s, 'close')));
    // Half of them send a valid-looking start and then stall.
    for (const s of loris.slice(0, 50)) s.write(Uint8Array.of(0x00, 0x20, ...new Uint8Array(16)));
    await connected(a, b);
    await expect(a.call(b.id, 'echo', 1)).resolves.toBe(1);
    await allClosed;
    expect(logger.warnings.filter((w) => w.details?.code === 'timeout')).toHaveLength(100);
    await expect(a.call(b.id, 'echo', 2)).resolves.toBe(2);
  });

  it('evicts the oldest pending handshake when the cap is reached', async () => {
    const logger = recorder();
    const b = await startNode({ logger, maxPendingHandshakes: 10, handshakeTimeoutMs: 10_000 });
    const a = await startNode();
    const idle = await Promise.all(Array.from({ length: 10 }, () => rawSocket(b.port)));
    const firstClosed = once(idle[0] as Socket, 'close');
    await connected(a, b); // the eleventh connection: evicts the oldest idle one
    await firstClosed;
    expect(logger.warnings.some((w) => /evicted the oldest/.test(w.message))).toBe(true);
    for (const s of idle) s.destroy();
  });
});
