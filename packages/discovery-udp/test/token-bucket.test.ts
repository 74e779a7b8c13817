import { TokenBucket } from '../src/index.js';

const T0 = 1_000_000;

function takeAll(bucket: TokenBucket, now: number, max = 10_000): number {
  let taken = 0;
  while (taken < max && bucket.take(now)) taken++;
  return taken;
}

describe('TokenBucket (fake clock)', () => {
  it('starts with one second of tokens, then refuses', () => {
    const bucket = new TokenBucket({ ratePerSecond: 50 });
    expect(takeAll(bucket, T0)).toBe(50);
    expect(bucket.take(T0)).toBe(false);
  });

  it('refills at the rate, fractional tokens included', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10 });
    takeAll(bucket, T0);
    expect(bucket.take(T0 + 50)).toBe(false); // half a token
    expect(bucket.take(T0 + 100)).toBe(true); // the half plus another half
    expect(bucket.take(T0 + 100)).toBe(false);
    expect(takeAll(bucket, T0 + 600)).toBe(5);
  });

  it('never holds more than the burst, however long it was idle', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3 });
    expect(takeAll(bucket, T0)).toBe(3);
    expect(takeAll(bucket, T0 + 3_600_000)).toBe(3);
  });

  it('bounds what a flood gets: burst + rate × elapsed', () => {
    const bucket = new TokenBucket({ ratePerSecond: 50 });
    let granted = 0;
    // 10 000 requests spread over 2 s of fake time.
    for (let i = 0; i < 10_000; i++) if (bucket.take(T0 + i * 0.2)) granted++;
    expect(granted).toBeLessThanOrEqual(50 + 50 * 2);
    expect(granted).toBeGreaterThanOrEqual(50 + 50 * 2 - 1);
  });

  it('adds nothing when the clock steps back, and resumes from the new reading', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10 });
    takeAll(bucket, T0);
    expect(bucket.take(T0 - 5000)).toBe(false);
    expect(bucket.take(T0 - 4900)).toBe(true);
    expect(bucket.available(T0 - 4900)).toBe(0);
  });

  it('Infinity means no limit; 0 means none at all', () => {
    const unlimited = new TokenBucket({ ratePerSecond: Infinity });
    expect(takeAll(unlimited, T0, 100_000)).toBe(100_000);
    expect(unlimited.available(T0)).toBe(Infinity);
    const closed = new TokenBucket({ ratePerSecond: 0 });
    expect(closed.take(T0)).toBe(false);
    expect(closed.take(T0 + 3_600_000)).toBe(false);
  });

  it('refuses bad options', () => {
    for (const options of [undefined, {}, { ratePerSecond: -1 }, { ratePerSecond: Number.NaN }, { ratePerSecond: 1, burst: -1 }]) {
      expect(() => new TokenBucket(options as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });
});
