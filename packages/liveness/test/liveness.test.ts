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
});
