import type { Clock } from '@peernet/interface';

/**
 * Virtual time for tests: `setTimeout` callbacks fire only when the test
 * calls `advance`, in deadline order, with pending promise callbacks run
 * after each one. A `Clock`, so it fits every `clock` option in PeerNet.
 */
export class FakeClock implements Clock {
  #now: number;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 1;

  /** Starts the clock at `start` ms (default 0). */
  constructor(start = 0) {
    this.#now = start;
  }

  /** Current virtual time in ms. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at now + `ms`. */
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  /** Cancels a timer (unknown handles are ignored). */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Delays of the pending timers from now, soonest first. */
  pendingDelays(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].callback();
      await settle();
    }
    this.#now = end;
    await settle();
  }
}

/** Lets already-resolved promise chains run (a few microtask turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
