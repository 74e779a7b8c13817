import { PeerNetError } from '@peernet/interface';
import { FakeClock, settle as flush } from '@peernet/compliance';
import { watchLiveness, type Pingable } from '@peernet/liveness';

/** A session whose pongs the test controls. */
class FakeSession implements Pingable {
  pings = 0;
  answering = true;
  destroyedWith: PeerNetError | undefined;
  #close!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.#close = resolve));
  ping(): Promise<number> {
    this.pings++;
    return this.answering ? Promise.resolve(1) : new Promise(() => undefined);
  }
  destroy(reason?: PeerNetError): void {
    this.destroyedWith = reason;
    this.#close();
  }
  closeRemotely(): void {
    this.#close();
  }
}

describe('watchLiveness', () => {
  it('pings every interval and keeps a live session open', async () => {
    const clock = new FakeClock();
    const session = new FakeSession();
    const watch = watchLiveness(session, { intervalMs: 15_000, timeoutMs: 30_000, clock });
    await clock.advance(15_000 * 10);
    expect(session.pings).toBe(10);
    expect(session.destroyedWith).toBeUndefined();
    expect(watch.lastRttMs).toBe(1);
    watch.stop();
    expect(clock.pending).toBe(0);
  });

  it('closes a session with no pong for the timeout, not before', async () => {
    const clock = new FakeClock();
    const session = new FakeSession();
    watchLiveness(session, { intervalMs: 15_000, timeoutMs: 30_000, clock });
    await clock.advance(15_000); // answered
    session.answering = false;
    await clock.advance(29_999);
    expect(session.destroyedWith).toBeUndefined();
    await clock.advance(1);
    expect(session.destroyedWith).toBeInstanceOf(PeerNetError);
    expect(session.destroyedWith?.code).toBe('timeout');
    expect(clock.pending).toBe(0);
  });

  it('honours a timeout shorter than the interval', async () => {
    const clock = new FakeClock();
    const session = new FakeSession();
    session.answering = false;
    watchLiveness(session, { intervalMs: 10_000, timeoutMs: 4_000, clock });
    await clock.advance(3_999);
    expect(session.destroyedWith).toBeUndefined();
    await clock.advance(1);
    expect(session.destroyedWith?.code).toBe('timeout');
  });

  it('stops by itself when the session closes', async () => {
    const clock = new FakeClock();
    const session = new FakeSession();
    watchLiveness(session, { clock });
    session.closeRemotely();
    await flush();
    expect(clock.pending).toBe(0);
    await clock.advance(120_000);
    expect(session.pings).toBe(0);
  });

  it('refuses non-positive settings', () => {
    expect(() => watchLiveness(new FakeSession(), { intervalMs: 0 })).toThrow(/positive/);
    expect(() => watchLiveness(new FakeSession(), { timeoutMs: -1 })).toThrow(/positive/);
  });

  it('names the component and the option in every refusal', () => {
    const refusal = (options: unknown): unknown => {
      try {
        watchLiveness(new FakeSession(), options as never);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refusal({ intervalMs: Number.NaN })).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/^liveness option intervalMs /) });
    expect(refusal({ timeoutMs: 2 ** 31 })).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/^liveness option timeoutMs /) });
    expect(refusal({ clock: { now: () => 0 } })).toMatchObject({ code: 'invalid_argument', message: expect.stringContaining('clock') });
    expect(refusal('fast')).toMatchObject({ code: 'invalid_argument' });
  });

  it('measures silence on the monotonic clock by default: a wall-clock jump closes nothing', async () => {
    const realNow = Date.now;
    let pings = 0;
    let destroyedWith: PeerNetError | undefined;
    let settle: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const session: Pingable = {
      ping: () => {
        pings++;
        if (pings === 3) {
          // The system time is set an hour ahead (as NTP or a user might) while this ping goes unanswered.
          Date.now = () => realNow() + 3_600_000;
          return new Promise(() => undefined);
        }
        if (pings === 8) settle();
        return Promise.resolve(1);
      },
      destroy: (reason) => {
        destroyedWith = reason;
        settle();
      },
      closed: new Promise(() => undefined),
    };
    const watch = watchLiveness(session, { intervalMs: 10, timeoutMs: 1000 });
    try {
      await done;
      expect(destroyedWith).toBeUndefined();
      expect(pings).toBe(8);
    } finally {
      Date.now = realNow;
      watch.stop();
    }
  });
});
