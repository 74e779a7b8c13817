import * as path from 'node:path';
import { useTempDir } from '@peernet/compliance';
import { PeerId } from '@peernet/interface';
import { MemoryTrustStore, openFileTrustStore } from '../src/index.js';
import type { TrustEntry, TrustStore } from '../src/index.js';

const id = (n: number): PeerId => PeerId.fromBytes(new Uint8Array(32).fill(n));

const root = useTempDir('peernet-trust-store-');
let counter = 0;

/** A clock that advances by one second per reading. */
function fakeClock(start = 1_700_000_000_000): () => number {
  let t = start;
  return () => (t += 1000);
}

type Factory = (now: () => number) => Promise<TrustStore>;
const factories: Array<[string, Factory]> = [
  ['MemoryTrustStore', async (now) => new MemoryTrustStore({ now })],
  ['FileTrustStore', (now) => openFileTrustStore({ path: path.join(root, `store-${++counter}`, 'trust.json'), now })],
];

describe.each(factories)('%s', (_, open) => {
  let store: TrustStore;
  beforeEach(async () => {
    store = await open(fakeClock());
  });
  afterEach(async () => {
    await store.close();
  });

  it('starts empty and trusts nobody', () => {
    expect(store.list()).toEqual([]);
    expect(store.has(id(1))).toBe(false);
    expect(store.get(id(1))).toBeUndefined();
  });

  it('adds peers given in any PeerIdLike form', async () => {
    const a = await store.add(id(1), { label: 'laptop' });
    expect(a).toEqual({ id: id(1), label: 'laptop', addedAt: 1_700_000_001_000 });
    expect(Object.isFrozen(a)).toBe(true);
    await store.add(id(2).toString());
    await store.add(id(3).toHex());
    await store.add(id(4).bytes);
    expect(store.list().map((e) => e.id.toString())).toEqual([1, 2, 3, 4].map((n) => id(n).toString()));
    for (const n of [1, 2, 3, 4]) {
      expect(store.has(id(n))).toBe(true);
      expect(store.has(id(n).toString())).toBe(true);
      expect(store.has(id(n).toHex())).toBe(true);
      expect(store.has(id(n).bytes)).toBe(true);
    }
    expect(store.get(id(2))?.label).toBeUndefined();
  });

  it('updates the label of an existing peer and keeps addedAt and position', async () => {
    await store.add(id(1), { label: 'old' });
    await store.add(id(2));
    const updated = await store.add(id(1), { label: 'new' });
    expect(updated).toEqual({ id: id(1), label: 'new', addedAt: 1_700_000_001_000 });
    expect(store.list().map((e) => e.label)).toEqual(['new', undefined]);
    const kept = await store.add(id(1));
    expect(kept.label).toBe('new');
    expect((await store.add(id(1), { label: '' })).label).toBe('');
  });

  it('removes peers; removing an unknown peer resolves false', async () => {
    await store.add(id(1));
    await store.add(id(2));
    expect(await store.remove(id(1))).toBe(true);
    expect(store.has(id(1))).toBe(false);
    expect(store.get(id(1))).toBeUndefined();
    expect(store.list().map((e) => e.id.toString())).toEqual([id(2).toString()]);
    expect(await store.remove(id(1))).toBe(false);
    expect(await store.remove(id(9).toString())).toBe(false);
    // Re-adding starts a new entry with a new addedAt.
    const again = await store.add(id(1));
    expect(again.addedAt).toBeGreaterThan(1_700_000_002_000);
  });

  it('revokes at once: has() is false as soon as remove() is called', async () => {
    await store.add(id(1));
    const pending = store.remove(id(1));
    expect(store.has(id(1))).toBe(false);
    expect(store.get(id(1))).toBeUndefined();
    expect(store.list()).toEqual([]);
    expect(await pending).toBe(true);
    expect(store.has(id(1))).toBe(false);
  });

  it('applies concurrent mutations in call order', async () => {
    const results = await Promise.all([
      store.add(id(1), { label: 'a' }),
      store.add(id(2)),
      store.remove(id(1)),
      store.add(id(1), { label: 'b' }),
      store.remove(id(3)),
      store.add(id(2), { label: 'c' }),
    ]);
    expect(results[2]).toBe(true);
    expect(results[4]).toBe(false);
    expect(store.list().map((e) => [e.id.toString(), e.label])).toEqual([
      [id(2).toString(), 'c'],
      [id(1).toString(), 'b'],
    ]);
  });

  it('does not report a peer as trusted before its add resolves', async () => {
    const pending = store.add(id(1));
    expect(store.has(id(1))).toBe(false);
    await pending;
    expect(store.has(id(1))).toBe(true);
  });

  it('emits added, updated and removed once the change is made', async () => {
    const events: Array<[string, ...unknown[]]> = [];
    const onAdded = (entry: TrustEntry): void => {
      events.push(['added', entry.id.toString(), entry.label, store.has(entry.id)]);
    };
    const onUpdated = (entry: TrustEntry, previous: TrustEntry): void => {
      events.push(['updated', entry.label, previous.label]);
    };
    const onRemoved = (entry: TrustEntry): void => {
      events.push(['removed', entry.id.toString(), store.has(entry.id)]);
    };
    expect(store.on('added', onAdded).on('updated', onUpdated).on('removed', onRemoved)).toBe(store);
    await store.add(id(1), { label: 'x' });
    await store.add(id(1), { label: 'x' }); // no change: no event
    await store.add(id(1), { label: 'y' });
    await store.remove(id(1));
    await store.remove(id(1)); // unknown: no event
    expect(events).toEqual([
      ['added', id(1).toString(), 'x', true],
      ['updated', 'y', 'x'],
      ['removed', id(1).toString(), false],
    ]);
    store.off('added', onAdded);
    await store.add(id(2));
    expect(events).toHaveLength(3);
  });

  it('keeps working when a listener throws', async () => {
    const thrown: unknown[] = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (task) =>
      original(() => {
        try {
          task();
        } catch (error) {
          thrown.push(error);
        }
      });
    try {
      let second = 0;
      store.on('added', () => {
        throw new Error('listener bug');
      });
      store.on('added', () => second++);
      await expect(store.add(id(1))).resolves.toMatchObject({ label: undefined });
      await new Promise((resolve) => setImmediate(resolve));
      expect(second).toBe(1);
      expect(store.has(id(1))).toBe(true);
      expect(thrown).toEqual([new Error('listener bug')]);
    } finally {
      globalThis.queueMicrotask = original;
    }
  });

  it('rejects invalid input with typed errors and treats malformed ids as untrusted', async () => {
    await expect(store.add('not-a-peer-id')).rejects.toMatchObject({ code: 'invalid_peer_id' });
    await expect(store.add(new Uint8Array(31))).rejects.toMatchObject({ code: 'invalid_peer_id' });
    await expect(store.add(id(1), { label: 5 as never })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.add(id(1), { label: 'x'.repeat(1025) })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.remove({} as never)).rejects.toMatchObject({ code: 'invalid_peer_id' });
    for (const bad of ['', 'x', 42, null, undefined, {}, new Uint8Array(3)]) {
      expect(store.has(bad as never)).toBe(false);
      expect(store.get(bad as never)).toBeUndefined();
    }
    expect(() => store.on('added', 'nope' as never)).toThrow(/function/);
    expect(store.list()).toEqual([]);
  });

  it('refuses a clock that does not give milliseconds', async () => {
    const bad = await open(() => Number.NaN);
    await expect(bad.add(id(1))).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(bad.has(id(1))).toBe(false);
    await bad.close();
  });

  it('finishes pending mutations on close, then refuses new ones', async () => {
    const pending = store.add(id(1));
    const closed = store.close();
    await expect(store.add(id(2))).rejects.toMatchObject({ code: 'invalid_argument', message: 'trust store is closed' });
    await expect(store.remove(id(1))).rejects.toMatchObject({ code: 'invalid_argument' });
    await closed;
    await expect(pending).resolves.toMatchObject({ id: id(1) });
    expect(store.has(id(1))).toBe(true);
    await store.close();
  });

  it('hands out entries that cannot alter the store', async () => {
    await store.add(id(1), { label: 'a' });
    const list = store.list();
    list.pop();
    expect(store.list()).toHaveLength(1);
    expect(() => {
      (store.get(id(1)) as { label: string }).label = 'b';
    }).toThrow(TypeError);
  });
});
