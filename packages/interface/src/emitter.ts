import { InvalidArgumentError } from './errors.js';

const ONCE = Symbol('once');

/** Event names mapped to listener signatures. */
export type EventMap<Events> = { [E in keyof Events]: (...args: never[]) => void };

/**
 * The one typed event emitter of PeerNet; it runs in any JavaScript runtime.
 *
 * The rule for a listener that throws, everywhere: it does not stop the
 * other listeners nor the operation that emitted (whose state is already
 * settled); its error is rethrown from a microtask, where it surfaces as an
 * uncaught exception, as a throwing `EventTarget` listener does.
 */
export class TypedEmitter<Events extends EventMap<Events>> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Adds a listener (adding the same function twice has no effect). */
  on<E extends keyof Events>(event: E, listener: Events[E]): void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function');
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  /** Adds a listener that is removed before its first call. */
  once<E extends keyof Events>(event: E, listener: Events[E]): void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function');
    const wrapper = Object.assign(
      (...args: Parameters<Events[E]>) => {
        this.off(event, wrapper as unknown as Events[E]);
        (listener as (...values: Parameters<Events[E]>) => void)(...args);
      },
      { [ONCE]: listener },
    );
    this.on(event, wrapper as unknown as Events[E]);
  }

  /** Removes a listener; unknown listeners are ignored. */
  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    if (!set.delete(listener)) {
      // A listener added with `once` is held in a wrapper that remembers it.
      for (const held of set) {
        if ((held as { [ONCE]?: unknown })[ONCE] === listener) {
          set.delete(held);
          break;
        }
      }
    }
    if (set.size === 0) this.#listeners.delete(event);
  }

  /** How many listeners the event has. */
  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** Calls the event's listeners in the order they were added (see the class note for throwing ones). */
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (...values: Parameters<Events[E]>) => void)(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
