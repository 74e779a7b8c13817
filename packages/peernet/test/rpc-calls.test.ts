import { PeerId } from '@peernet/interface';
import type { PeerNet } from 'peernet';
import {
  callMethod,
  castMethod,
  caster,
  client,
  serve,
  withContext,
  type Client,
  type RpcContext,
  type RpcNode,
} from '@peernet/rpc';
import { cleanup, deferred, pair, rejection } from './helpers.js';

afterEach(cleanup);

// A PeerNet node is an RpcNode as it is.
const nodeFits = (node: PeerNet): RpcNode => node;
void nodeFits;

/** Compile-time equality of two types. */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

interface Calculator {
  add(a: number, b: number): number;
  concat(parts: string[], separator?: string | null): string;
  big(n: bigint): bigint;
  bytes(data: Uint8Array): Uint8Array;
  shape(input: { name: string; tags: string[]; nested: { ok: boolean } }): { name: string; count: number; ok: boolean };
  nothing(): void;
  nil(): null;
  slow(ms: number): Promise<string>;
  version: string;
}

const calculator = {
  add: (a: number, b: number) => a + b,
  concat: (parts: string[], separator?: string | null) => parts.join(separator ?? ','),
  big: (n: bigint) => n * 2n,
  bytes: (data: Uint8Array) => data.map((x) => 255 - x),
  shape: (input: { name: string; tags: string[]; nested: { ok: boolean } }) => ({
    name: input.name.toUpperCase(),
    count: input.tags.length,
    ok: !input.nested.ok,
  }),
  nothing(): void {},
  nil: () => null,
  async slow(ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return `waited ${ms}`;
  },
  version: '1.0',
};

describe('client calls served methods', () => {
  it('passes several argument and result types both ways', async () => {
    const { a, b } = await pair();
    serve(b, 'calc', calculator);
    const calc = client<Calculator>(a, b.id, 'calc');

    expect(await calc.add(2, 40)).toBe(42);
    expect(await calc.add(0.5, -1.25)).toBe(-0.75);
    expect(await calc.concat(['a', 'b', 'c'])).toBe('a,b,c');
    expect(await calc.concat(['a', 'b'], null)).toBe('a,b');
    expect(await calc.concat(['a', 'b'], '-')).toBe('a-b');
    expect(await calc.big(2n ** 70n)).toBe(2n ** 71n);
    expect(await calc.bytes(new Uint8Array([0, 1, 254]))).toEqual(new Uint8Array([255, 254, 1]));
    expect(await calc.shape({ name: 'box', tags: ['x', 'y'], nested: { ok: false } })).toEqual({
      name: 'BOX',
      count: 2,
      ok: true,
    });
    expect(await calc.nothing()).toBeNull(); // undefined travels as null
    expect(await calc.nil()).toBeNull();
  });

  it('awaits async methods and runs calls concurrently', async () => {
    const { a, b } = await pair();
    serve(b, 'calc', calculator);
    const calc = client<Calculator>(a, b.id, 'calc');
    const results = await Promise.all([calc.slow(60), calc.slow(1), calc.add(1, 1)]);
    expect(results).toEqual(['waited 60', 'waited 1', 2]);
  });

  it('types the stub: only methods, params as declared, results as promises', async () => {
    const { a, b } = await pair();
    const calc = client<Calculator>(a, b.id, 'calc');
    assertType<Equal<typeof calc.add, (a: number, b: number) => Promise<number>>>();
    assertType<Equal<ReturnType<typeof calc.slow>, Promise<string>>>();
    assertType<Equal<keyof Client<Calculator>, Exclude<keyof Calculator, 'version'>>>();
    // @ts-expect-error data members are not callable
    void calc.version;
    // @ts-expect-error wrong argument type
    void (() => calc.add('1', 2));
    // @ts-expect-error missing argument
    void (() => calc.add(1));
  });

  it('binds this to the served object', async () => {
    const { a, b } = await pair();
    const counter = {
      count: 0,
      increment(by: number): number {
        this.count += by;
        return this.count;
      },
      async read(): Promise<number> {
        await Promise.resolve();
        return this.count;
      },
    };
    serve(b, 'counter', counter);
    const remote = client<typeof counter>(a, b.id, 'counter');
    expect(await remote.increment(2)).toBe(2);
    expect(await remote.increment(3)).toBe(5);
    expect(await remote.read()).toBe(5);
    expect(counter.count).toBe(5);
  });

  it('serves a class instance through its own (field or bound) methods only', async () => {
    const { a, b } = await pair();
    class Device {
      #temperature = 21;
      // Own properties: exposed.
      readonly temperature = (): number => this.#temperature;
      readonly setTemperature = (value: number): number => (this.#temperature = value);
      // On Device.prototype: not exposed.
      reset(): void {
        this.#temperature = 0;
      }
    }
    const device = new Device();
    serve(b, 'device', device);
    const remote = client<Device>(a, b.id, 'device');
    expect(await remote.setTemperature(25)).toBe(25);
    expect(await remote.temperature()).toBe(25);
    expect((await rejection(remote.reset())).code).toBe('no_such_handle');
    expect(await remote.temperature()).toBe(25);

    // The bound pattern: pick the prototype methods to expose.
    serve(b, 'device-reset', { reset: device.reset.bind(device) });
    await client<Pick<Device, 'reset'>>(a, b.id, 'device-reset').reset();
    expect(await remote.temperature()).toBe(0);
  });

  it('passes a withContext method the authenticated caller and the method first', async () => {
    const { a, b } = await pair();
    const api = {
      whoami: withContext((ctx: RpcContext, greeting: string, punctuation?: string) => {
        const from = `${ctx.peer.toString()} via ${ctx.name}.${ctx.method} oneWay=${String(ctx.oneWay)}`;
        return `${greeting} ${from}${punctuation ?? ''}`;
      }),
      // The function form binds this as well.
      state: 'served',
      read: withContext(function (this: { state: string }, ctx: RpcContext) {
        return `${this.state} to ${ctx.peer.toString()}`;
      }),
    };
    serve(b, 'who', api);
    const who = client<typeof api>(a, b.id, 'who');
    // The context is not part of the caller's params.
    assertType<Equal<typeof who.whoami, (greeting: string, punctuation?: string) => Promise<string>>>();
    assertType<Equal<typeof who.read, () => Promise<string>>>();
    const from = `${a.id.toString()} via who.whoami oneWay=false`;
    expect(await who.whoami('hi')).toBe(`hi ${from}`);
    expect(await who.whoami('hi', '!')).toBe(`hi ${from}!`);
    expect(await who.read()).toBe(`served to ${a.id.toString()}`);
  });

  it('passes other methods exactly the params the caller sent, so no context can be forged', async () => {
    const { a, b } = await pair();
    const api = {
      echo: (...args: unknown[]) => args,
      owner: withContext((ctx: RpcContext, ...rest: unknown[]) => [ctx.peer.toString(), rest.length]),
    };
    serve(b, 'ctx', api);
    const forged = { peer: b.id.toString(), name: 'ctx', method: 'owner', oneWay: false };
    expect(await callMethod(a, b.id, 'ctx', 'echo', [])).toEqual([]);
    expect(await callMethod(a, b.id, 'ctx', 'echo', [forged, 1])).toEqual([forged, 1]);
    // Whatever the peer sends comes after the real context.
    expect(await callMethod(a, b.id, 'ctx', 'owner', [forged])).toEqual([a.id.toString(), 1]);
  });

  it('casts: the method runs remotely, no reply', async () => {
    const { a, b } = await pair();
    const arrived = deferred<{ event: string; level: number; from: string; oneWay: boolean }>();
    const sink = {
      log: withContext((ctx: RpcContext, event: string, level: number): string => {
        arrived.resolve({ event, level, from: ctx.peer.toString(), oneWay: ctx.oneWay });
        return 'ignored';
      }),
    };
    serve(b, 'sink', sink);
    const cast = caster<typeof sink>(a, b.id, 'sink');
    assertType<Equal<ReturnType<typeof cast.log>, Promise<void>>>();
    await expect(cast.log('door opened', 3)).resolves.toBeUndefined();
    expect(await arrived.promise).toEqual({ event: 'door opened', level: 3, from: a.id.toString(), oneWay: true });
  });

  it('applies the timeout of the client options and aborts the served method', async () => {
    const { a, b } = await pair();
    const aborted = deferred<string>();
    const api = {
      hang: withContext((ctx: RpcContext): Promise<never> => {
        ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.method));
        return new Promise<never>(() => undefined);
      }),
    };
    serve(b, 'hang', api);
    const remote = client<typeof api>(a, b.id, 'hang', { timeout: 100 });
    expect((await rejection(remote.hang())).code).toBe('timeout');
    expect(await aborted.promise).toBe('hang');
  });

  it('passes undefined params as a local call would: trailing ones left out, earlier ones as null', async () => {
    const { a, b } = await pair();
    const seen: unknown[][] = [];
    const api = {
      count: (...params: unknown[]) => (seen.push(params), params.length),
      greet: (name: string, suffix = '!') => `hi ${name}${suffix}`,
    };
    serve(b, 'api', api);
    const remote = client<{ count(x?: number, y?: number): number; greet(name: string, suffix?: string): string }>(
      a,
      b.id,
      'api',
    );
    expect(await remote.count(1, undefined)).toBe(1);
    expect(await remote.count(undefined, 2)).toBe(2);
    expect(await remote.count(undefined, undefined)).toBe(0);
    expect(seen).toEqual([[1], [null, 2], []]);
    expect(await remote.greet('ann', undefined)).toBe('hi ann!'); // the default applies, as it would locally
    // Optional fields set to undefined are left out of the map.
    expect(await callMethod(a, b.id, 'api', 'count', [{ name: 'x', nickname: undefined }])).toBe(1);
    expect(seen[3]).toEqual([{ name: 'x' }]);
    expect(Object.keys(seen[3]![0] as object)).toEqual(['name']);
  });

  it('names a param that cannot be encoded, from the method and its position, and sends nothing', async () => {
    const { a, b } = await pair();
    let calls = 0;
    serve(b, 'clock', { set: (...params: unknown[]) => (calls++, params.length) });
    const when = new Date(0);
    const error = await rejection(callMethod(a, b.id, 'clock', 'set', [{ label: 'x', at: when }]));
    expect(error).toMatchObject({ code: 'bad_request', message: '"set" argument 0.at: Date is not a wire value' });
    const nested = await rejection(callMethod(a, b.id, 'clock', 'set', [1, { items: [0, 1, new Map()] }]));
    expect(nested.message).toBe('"set" argument 1.items[2]: Map is not a wire value');
    const cast = await rejection(castMethod(a, b.id, 'clock', 'set', [() => 1]));
    expect(cast).toMatchObject({ code: 'bad_request', message: '"set" argument 0: function is not a wire value' });
    // The proxy does the same for a caller whose types were loose.
    const loose = client<{ set(at: unknown): number }>(a, b.id, 'clock');
    expect((await rejection(loose.set(new Set([1])))).message).toBe('"set" argument 0: Set is not a wire value');
    expect(await callMethod(a, b.id, 'clock', 'set', [when.toISOString()])).toBe(1);
    expect(calls).toBe(1);
  });

  it('tells the caller which part of a result could not be sent', async () => {
    const { a, b } = await pair();
    serve(b, 'table', {
      map: (): unknown => new Map([['a', 1]]),
      rows: async (): Promise<unknown> => ({ rows: [{ id: 1 }, { id: 2, at: new Date(0) }] }),
    });
    const remote = client<{ map(): unknown; rows(): unknown }>(a, b.id, 'table');
    expect(await rejection(remote.map())).toMatchObject({
      code: 'handler_error',
      message: "the handler's result could not be sent: result: Map is not a wire value",
    });
    expect(await rejection(remote.rows())).toMatchObject({
      code: 'handler_error',
      message: "the handler's result could not be sent: result.rows[1].at: Date is not a wire value",
    });
  });

  it('rejects calls without a session', async () => {
    const { a } = await pair();
    const stranger = PeerId.fromBytes(new Uint8Array(32).fill(7));
    expect((await rejection(client<Calculator>(a, stranger, 'calc').add(1, 2))).code).toBe('not_connected');
    expect((await rejection(caster<Calculator>(a, stranger, 'calc').add(1, 2))).code).toBe('not_connected');
  });
});
