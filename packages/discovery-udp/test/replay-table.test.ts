import { DEFAULT_REPLAY_CAPACITY, ReplayTable } from '../src/index.js';

const key = (n: number): Uint8Array => {
  const bytes = new Uint8Array(32);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
};

const NOW = 1_700_000_000_000;

describe('ReplayTable', () => {
  it('knows nothing at first', () => {
    const table = new ReplayTable();
    expect(table.size).toBe(0);
    expect(table.capacity).toBe(DEFAULT_REPLAY_CAPACITY);
    expect(table.isReplay(key(1), NOW)).toBe(false);
    expect(table.lastAccepted(key(1))).toBeUndefined();
  });

  it('treats a time not later than the last accepted one of the same key as a replay', () => {
    const table = new ReplayTable();
    table.record(key(1), NOW, NOW);
    expect(table.isReplay(key(1), NOW)).toBe(true);
    expect(table.isReplay(key(1), NOW - 1)).toBe(true);
    expect(table.isReplay(key(1), NOW + 1)).toBe(false);
    expect(table.isReplay(key(2), NOW)).toBe(false);
  });

  it('keeps the highest time when records arrive out of order', () => {
    const table = new ReplayTable();
    table.record(key(1), NOW + 5, NOW);
    table.record(key(1), NOW + 2, NOW);
    expect(table.lastAccepted(key(1))).toBe(NOW + 5);
    expect(table.isReplay(key(1), NOW + 4)).toBe(true);
  });

  it('compares keys by value, not by reference or by where the bytes sit', () => {
    const table = new ReplayTable();
    const backing = new Uint8Array(40);
    backing.set(key(9), 5);
    table.record(backing.subarray(5, 37), NOW, NOW);
    expect(table.isReplay(key(9), NOW)).toBe(true);
  });

  it('forgets the least recently accepted key beyond its capacity', () => {
    const table = new ReplayTable({ capacity: 3 });
    table.record(key(1), NOW, NOW);
    table.record(key(2), NOW, NOW);
    table.record(key(3), NOW, NOW);
    table.record(key(1), NOW + 1, NOW); // key 1 is now the most recent
    table.record(key(4), NOW, NOW);
    expect(table.size).toBe(3);
    expect(table.lastAccepted(key(2))).toBeUndefined();
    expect(table.isReplay(key(1), NOW + 1)).toBe(true);
    expect(table.isReplay(key(3), NOW)).toBe(true);
    expect(table.isReplay(key(4), NOW)).toBe(true);
  });

  it('never holds more than its capacity, however many keys arrive', () => {
    const table = new ReplayTable({ capacity: 100 });
    for (let i = 0; i < 10_000; i++) {
      table.record(key(i), NOW + i, NOW + i);
      expect(table.size).toBeLessThanOrEqual(100);
    }
    expect(table.size).toBe(100);
  });

  it('drops entries older than the window: the time check already rejects what they would', () => {
    const table = new ReplayTable({ windowMs: 30_000 });
    table.record(key(1), NOW, NOW);
    table.record(key(2), NOW + 10_000, NOW + 10_000);
    // 30 s after key 1: still needed (a packet at NOW is still inside the window).
    table.record(key(3), NOW + 30_000, NOW + 30_000);
    expect(table.size).toBe(3);
    // Now key 1 expires on the next record.
    table.record(key(4), NOW + 30_001, NOW + 30_001);
    expect(table.lastAccepted(key(1))).toBeUndefined();
    expect(table.size).toBe(3);
    expect(table.prune(NOW + 40_001)).toBe(1); // key 2
    expect(table.prune(NOW + 40_001)).toBe(0);
    expect(table.size).toBe(2);
    expect(table.prune(NOW + 100_000)).toBe(2);
    expect(table.size).toBe(0);
  });

  it('clear() forgets everything', () => {
    const table = new ReplayTable();
    table.record(key(1), NOW, NOW);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.isReplay(key(1), NOW)).toBe(false);
  });

  it('refuses a bad capacity or window', () => {
    for (const options of [{ capacity: 0 }, { capacity: 1.5 }, { capacity: -1 }, { windowMs: -1 }, { windowMs: Number.NaN }]) {
      expect(() => new ReplayTable(options)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });
});
