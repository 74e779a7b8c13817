import { VerifyBudget } from '../src/index.js';

const T0 = 1_000_000;
const A = 'key-a';
const B = 'key-b';

/** How many checks `budget` grants for `key` from `source` at `now`, asking up to `max` times. */
function grants(budget: VerifyBudget, key: string, source: string, now: number, max = 10_000): number {
  let granted = 0;
  for (let i = 0; i < max; i++) if (budget.take(key, source, now) !== false) granted++;
  return granted;
}

describe('VerifyBudget (fake clock)', () => {
  it('gives every key its own bucket: forging key A to exhaustion leaves key B untouched', () => {
    const budget = new VerifyBudget({ totalPerSecond: 100, keyPerSecond: 10 });
    // A flood naming A from many addresses: A's 10 tokens, no more.
    let forA = 0;
    for (let i = 0; i < 1000; i++) if (budget.take(A, `10.0.0.${i % 200}`, T0) !== false) forA++;
    expect(forA).toBe(10);
    expect(budget.take(B, '10.0.1.2', T0)).toBe('shared');
  });

  it('refills each key at its own rate', () => {
    const budget = new VerifyBudget({ totalPerSecond: 100, keyPerSecond: 10 });
    for (let i = 0; i < 100; i++) budget.take(A, `10.0.0.${i}`, T0);
    expect(budget.take(A, '10.0.0.250', T0)).toBe(false);
    // 10 per second: one token after 100 ms, shared by every source.
    expect(budget.take(A, '10.0.0.250', T0 + 100)).toBe('shared');
    expect(budget.take(A, '10.0.0.251', T0 + 100)).toBe(false);
  });

  it('lets one source use at most half of a key rate, so the real peer elsewhere still gets the other half', () => {
    const budget = new VerifyBudget({ totalPerSecond: 100, keyPerSecond: 10 });
    expect(grants(budget, A, '10.0.0.9', T0)).toBe(5);
    // Over 10 s of flooding from one address: burst 5 + 5/s.
    let fromForger = 0;
    for (let ms = 1; ms <= 10_000; ms++) if (budget.take(A, '10.0.0.9', T0 + ms) !== false) fromForger++;
    expect(fromForger).toBe(50);
    // The key bucket, refilled at 10/s and spent at 5/s, is full again: the peer at a new address is verified.
    expect(budget.take(A, '10.0.0.77', T0 + 10_000)).toBe('shared');
  });

  it('keeps a ceiling for all keys together that one key cannot reach', () => {
    const budget = new VerifyBudget({ totalPerSecond: 30, keyPerSecond: 10 });
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    let total = 0;
    for (const key of keys) for (let s = 0; s < 10; s++) total += grants(budget, key, `10.0.${s}.1`, T0, 100);
    expect(total).toBe(30);
    // One key alone spends at most its own 10 of the 30.
    const alone = new VerifyBudget({ totalPerSecond: 30, keyPerSecond: 10 });
    let one = 0;
    for (let s = 0; s < 10; s++) one += grants(alone, A, `10.0.${s}.1`, T0, 100);
    expect(one).toBe(10);
    expect(grants(alone, B, '10.0.0.1', T0, 100)).toBe(5);
  });

  it('pays packets from the home address from a reserve of their own, outside every other budget', () => {
    const budget = new VerifyBudget({ totalPerSecond: 20, keyPerSecond: 10, homePerSecond: 2 });
    expect(budget.homeOf(A)).toBeUndefined();
    expect(budget.take(A, '10.0.0.2', T0)).toBe('shared');
    budget.verified(A, '10.0.0.2');
    expect(budget.homeOf(A)).toBe('10.0.0.2');
    // Forgeries naming A and B from many addresses use up A's bucket and the total.
    for (const key of [A, B, 'k3']) for (let s = 0; s < 20; s++) grants(budget, key, `10.0.9.${s}`, T0, 100);
    expect(budget.take(A, '10.0.9.1', T0)).toBe(false);
    expect(budget.take('k4', '10.0.9.1', T0)).toBe(false);
    // The peer at its home address is still verified: two seconds' worth of burst.
    expect(grants(budget, A, '10.0.0.2', T0)).toBe(4);
  });

  it('refills the home reserve at homePerSecond, burst two seconds worth', () => {
    const budget = new VerifyBudget({ totalPerSecond: 0, homePerSecond: 2 });
    budget.verified(A, '10.0.0.2');
    expect(grants(budget, A, '10.0.0.2', T0)).toBe(4);
    expect(budget.take(A, '10.0.0.2', T0 + 499)).toBe(false);
    expect(budget.take(A, '10.0.0.2', T0 + 500)).toBe('home');
    expect(grants(budget, A, '10.0.0.2', T0 + 3_600_000)).toBe(4);
    // Only the home address draws on it.
    expect(budget.take(A, '10.0.0.3', T0 + 7_200_000)).toBe(false);
  });

  it('falls back to the shared budget when the home reserve is spent', () => {
    const budget = new VerifyBudget({ totalPerSecond: 100, keyPerSecond: 10, homePerSecond: 1 });
    budget.verified(A, '10.0.0.2');
    expect(budget.take(A, '10.0.0.2', T0)).toBe('home');
    expect(budget.take(A, '10.0.0.2', T0)).toBe('home');
    expect(budget.take(A, '10.0.0.2', T0)).toBe('shared');
  });

  it('moves the home address to the last source that verified', () => {
    const budget = new VerifyBudget({ totalPerSecond: 100, keyPerSecond: 10, homePerSecond: 1 });
    budget.verified(A, '10.0.0.2');
    budget.verified(A, '10.0.0.3');
    expect(budget.homeOf(A)).toBe('10.0.0.3');
    expect(budget.take(A, '10.0.0.2', T0)).toBe('shared');
    expect(budget.take(A, '10.0.0.3', T0)).toBe('home');
  });

  it('forgets the least recently used key beyond maxKeys (its budget starts full again)', () => {
    const budget = new VerifyBudget({ totalPerSecond: Infinity, keyPerSecond: 2, maxKeys: 2 });
    budget.verified(A, '10.0.0.2');
    budget.take(B, '10.0.0.3', T0);
    budget.take('k3', '10.0.0.4', T0);
    expect(budget.size).toBe(2);
    expect(budget.homeOf(A)).toBeUndefined();
  });

  it('Infinity means no limit; 0 means no shared checks at all', () => {
    const unlimited = new VerifyBudget({ totalPerSecond: Infinity });
    expect(grants(unlimited, A, '10.0.0.9', T0, 100_000)).toBe(100_000);
    const closed = new VerifyBudget({ totalPerSecond: 0 });
    expect(closed.take(A, '10.0.0.9', T0 + 3_600_000)).toBe(false);
  });

  it('refuses bad options with invalid_argument', () => {
    for (const options of [
      undefined,
      {},
      { totalPerSecond: -1 },
      { totalPerSecond: 10, keyPerSecond: Number.NaN },
      { totalPerSecond: 10, homePerSecond: -2 },
      { totalPerSecond: 10, maxKeys: 0 },
    ]) {
      expect(() => new VerifyBudget(options as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });
});
