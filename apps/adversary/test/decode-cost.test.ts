// A paired peer that sends envelopes which are cheap on the wire and dear in
// the heap: arrays of 16 million one-byte items (a0 = {}, 80 = [], 00 = 0)
// in one 16 MiB message. The node runs with a 1 GB heap; it must stay up,
// never decode what no handler will take, and keep serving another peer.
import { once } from 'node:events';
import { encodeValue, type Envelope } from '@peernet/frame';
import { generateIdentity } from '@peernet/identity';
import { RawPeer, envelopeBytes, type RawSession } from '../src/index.js';
import { MiB, arena, eventually, runsOf, type Arena } from './harness.js';

// Generous: on an idle machine the other peer's p99 stays in the tens of ms.
const P99_BOUND_MS = 1_000;
const GOOD_CALLS = 200;
// What the node's heap may grow by during an attack (its decode budget per session is 64 MiB).
const HEAP_HEADROOM = 160 * MiB;
// Items in a hostile array: the envelope stays just under the default maxMessageBytes (16 MiB).
const HOSTILE_ITEMS = 16 * MiB - 64;

let a: Arena;
let baselineHeap: number;
const attacker = generateIdentity();
const figures: string[] = [];

// The attacker never answers pings: its sessions end by liveness within 10 s at the latest.
const LIVENESS = { intervalMs: 2_000, timeoutMs: 10_000 };

beforeAll(async () => {
  a = await arena({ nodeArgs: ['--max-old-space-size=1024'], liveness: LIVENESS });
  await a.target.pair(attacker.id, 'attacker');
  baselineHeap = (await a.target.stats(true)).heapUsed;
}, 60_000);

afterAll(async () => {
  await a?.stop();
  // The figures of this run, for docs/security.md.
  if (figures.length > 0) process.stdout.write(`${figures.join('\n')}\n`);
});

/** A CBOR array of `count` copies of the one-byte item `item`. */
function dense(item: number, count: number): Uint8Array {
  const out = new Uint8Array(5 + count).fill(item);
  out[0] = 0x9a;
  new DataView(out.buffer).setUint32(1, count);
  return out;
}

/** `[type, ...fields, payload]` with its length prefix, the payload given already encoded. */
function envelope(type: number, fields: (string | number)[], payload: Uint8Array): Uint8Array {
  const head = [Uint8Array.of(0x80 | (fields.length + 2), type), ...fields.map((f) => encodeValue(f))];
  return envelopeBytes(new Uint8Array(Buffer.concat([...head, payload])));
}

async function session(): Promise<{ peer: RawPeer; s: RawSession }> {
  const peer = await RawPeer.connect({ port: a.target.port });
  const s = await peer.handshake({ identity: attacker });
  expect(await peer.accepted()).toBe(true);
  return { peer, s };
}

/** Writes, waiting for the socket to drain; false once the node has closed the connection. */
async function write(peer: RawPeer, bytes: Uint8Array): Promise<boolean> {
  if (peer.ended) return false;
  // A write racing the node's close fails with EPIPE or a reset: that is the node closing, as expected.
  if (!peer.write(bytes)) await Promise.race([once(peer.socket, 'drain').catch(() => undefined), peer.closed]);
  return !peer.ended;
}

// Plaintext sealed per write: the attacker and the measuring peer share this
// process, and sealing 16 MiB in one go would stall the measuring peer's
// replies here, not at the node.
const SEAL_PIECE = 1 * MiB;

/**
 * Seals `bytes` on the session and writes them a piece at a time, letting
 * this process's other work run between pieces; false once the node has
 * closed the connection.
 */
async function writeSealed(peer: RawPeer, s: RawSession, bytes: Uint8Array): Promise<boolean> {
  for (let at = 0; at < bytes.length; at += SEAL_PIECE) {
    if (!(await write(peer, s.sealStream(bytes.subarray(at, at + SEAL_PIECE))))) return false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return !peer.ended;
}

/** The node's next reply or failure reply on the session (its liveness pings skipped). */
async function nextReply(s: RawSession): Promise<Envelope> {
  for (;;) {
    for (const envelope of await s.envelopes()) if (envelope.type === 2 || envelope.type === 3) return envelope;
  }
}

/** The good peer's `echo` latencies over `GOOD_CALLS` calls, one after another. */
async function goodLatencies(): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < GOOD_CALLS; i++) {
    const started = performance.now();
    await expect(a.goodCall(i)).resolves.toBe(i);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

function p99(latencies: number[]): number {
  const sorted = [...latencies].sort((x, y) => x - y);
  return sorted[Math.ceil(sorted.length * 0.99) - 1] as number;
}

/**
 * Runs `attack` over and over until the good peer has made its calls, then
 * checks the node: up, heap bounded, the good peer's p99 bounded. Returns
 * how many times the attack ran.
 */
async function during(label: string, attack?: () => Promise<void>): Promise<number> {
  await a.target.request({ op: 'resetStats' });
  let done = false;
  let rounds = 0;
  const attacking = (async () => {
    while (attack !== undefined && !done) {
      await attack();
      rounds++;
    }
  })();
  let latencies: number[];
  try {
    latencies = await goodLatencies();
  } finally {
    done = true;
  }
  await attacking;
  const stats = await a.target.stats();
  expect(a.target.alive).toBe(true);
  const worst = p99(latencies);
  figures.push(
    `${label}: ${rounds} rounds; good peer p99 ${worst.toFixed(1)} ms over ${GOOD_CALLS} calls; ` +
      `node event loop delay p99 ${stats.loopDelayP99Ms.toFixed(1)} ms, max ${stats.loopDelayMaxMs.toFixed(1)} ms; ` +
      `node heap peak ${((stats.heapPeak - baselineHeap) / MiB).toFixed(1)} MiB over idle, RSS ${(stats.rss / MiB).toFixed(0)} MiB`,
  );
  expect(worst).toBeLessThan(P99_BOUND_MS);
  expect(stats.loopDelayMaxMs).toBeLessThan(P99_BOUND_MS);
  expect(stats.heapPeak).toBeLessThan(baselineHeap + HEAP_HEADROOM);
  expect(runsOf(stats, attacker)).toBe(0);
  return rounds;
}

describe.each([
  ['a0 ({})', 0xa0],
  ['80 ([])', 0x80],
  ['00 (0)', 0x00],
])('16 MiB of %s in one envelope', (_label, item) => {
  const hostile = dense(item, HOSTILE_ITEMS);

  it('sent to a name nobody exposes: never decoded, the session stays open', async () => {
    const send = envelope(4, ['nobody'], hostile);
    await during(`send of 16 MiB of ${item.toString(16)} to an unexposed name`, async () => {
      const { peer, s } = await session();
      expect(await writeSealed(peer, s, send)).toBe(true);
      // Still open: the same session answers a call made after it.
      expect(await write(peer, s.sealEnvelopes([{ type: 1, id: 1, name: 'echo', args: 'after' }]))).toBe(true);
      expect(await nextReply(s)).toEqual({ type: 2, id: 1, result: 'after' });
      peer.destroy();
    });
  }, 120_000);

  it('as a call to a handler whose authorize refuses the peer: refused before decoding, the session closed', async () => {
    let id = 0;
    await during(`call of 16 MiB of ${item.toString(16)} to a refusing handler`, async () => {
      const { peer, s } = await session();
      await writeSealed(peer, s, envelope(1, [++id, 'admin'], hostile));
      await peer.closedByNode();
    });
  }, 120_000);

  it('as four calls to a handler that holds them for 30 s: refused before decoding, the session closed', async () => {
    await during(`4 held calls of 16 MiB of ${item.toString(16)}`, async () => {
      const { peer, s } = await session();
      for (let id = 1; id <= 4 && (await writeSealed(peer, s, envelope(1, [id, 'hold'], hostile))); id++);
      await peer.closedByNode();
    });
    expect((await a.target.stats()).holdMaxInFlight).toBe(0);
  }, 120_000);
});

describe('arguments within the budget', () => {
  // 1,000,000 × {}: 1 MB on the wire, 64,000,056 bytes of estimated heap, just under the 64 MiB budget.
  const dear = dense(0xa0, 1_000_000);

  it('to a refusing handler: answered forbidden, never decoded', async () => {
    await during('call of 1,000,000 × {} to a refusing handler', async () => {
      const { peer, s } = await session();
      for (let id = 1; id <= 10; id++) {
        expect(await writeSealed(peer, s, envelope(1, [id, 'admin'], dear))).toBe(true);
        expect(await nextReply(s)).toEqual({ type: 3, id, code: 'forbidden', message: "not allowed to use 'admin'" });
      }
      peer.destroy();
    });
  }, 120_000);

  it('held by a handler for 30 s, four at once: one runs, the others wait for its budget; released when the peer leaves', async () => {
    const { peer, s } = await session();
    for (let id = 1; id <= 4; id++) expect(await writeSealed(peer, s, envelope(1, [id, 'hold'], dear))).toBe(true);
    await eventually(() => a.target.stats(), (stats) => stats.holdInFlight === 1);
    const heldHeap = (await a.target.stats(true)).heapUsed - baselineHeap;
    figures.push(`one held call of 1,000,000 × {}: node heap ${(heldHeap / MiB).toFixed(1)} MiB over idle after a full GC`);
    // The attack is the four held calls, in place: the good peer calls meanwhile.
    await during('4 held calls of 1,000,000 × {} (one admitted)');
    const stats = await a.target.stats();
    expect(stats.holdInFlight).toBe(1);
    expect(stats.holdMaxInFlight).toBe(1);
    // Reading from it is paused, so the node learns it left from liveness (or from the handler's 30 s).
    peer.destroy();
    await eventually(() => a.target.stats(), (st) => st.holdInFlight === 0, LIVENESS.timeoutMs + 20_000);
    const after = await a.target.stats(true);
    figures.push(`after the peer left: node heap ${((after.heapUsed - baselineHeap) / MiB).toFixed(1)} MiB over idle`);
    expect(after.heapUsed).toBeLessThan(baselineHeap + 16 * MiB);
    expect(await a.goodCall()).toBe('still here');
  }, 120_000);
});

it('the node is still up and serves a call after everything above', async () => {
  expect(a.target.alive).toBe(true);
  await expect(a.goodCall()).resolves.toBe('still here');
});
