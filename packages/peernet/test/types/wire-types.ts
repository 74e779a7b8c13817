// Compile-time cases for the wire types, checked by wire-types.test.ts. Each
// `@ts-expect-error` line must be an error, every other line must compile.
// Nothing here runs: the functions only give the checker something to check.
import type { Connection } from '@peernet/connection';
import type { WireCompatible, WireValue } from '@peernet/interface';
import { caster, client, serve, withContext, type RpcContext, type RpcNode } from '@peernet/rpc';
import type { PeerId, PeerNet } from 'peernet';

/** Accepts what `call`/`send` accept. */
declare function wire<T = WireValue>(value: T & WireCompatible<T>): void;

interface Profile {
  name: string;
  nickname?: string;
  tags: readonly string[];
  avatar?: Uint8Array;
  address?: { city: string; zip?: string | undefined };
}
interface Stamped {
  title: string;
  when: Date;
}
interface Catalog {
  items: Array<{ id: number; extra?: Map<string, number> }>;
}
class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  length(): number {
    return Math.hypot(this.x, this.y);
  }
}

export function values(
  profile: Profile,
  stamped: Stamped,
  catalog: Catalog,
  anything: WireValue,
  untyped: unknown,
): void {
  // What the wire carries.
  wire(null);
  wire(true);
  wire(42);
  wire(2n ** 70n);
  wire('text');
  wire(new Uint8Array(4));
  wire(Buffer.from('bytes'));
  wire([1, 'two', null, [3]]);
  wire({ nested: { list: [{ ok: true }] } });
  wire(anything);
  // Nothing to check in `unknown`: the encoder refuses at run time what cannot travel.
  wire(untyped);
  wire({ list: [untyped] });
  // Interfaces with optional fields, readonly arrays, optional nested objects.
  wire(profile);
  wire({ name: 'x', nickname: undefined, tags: [] } satisfies Profile);
  const frozen: readonly number[] = Object.freeze([1, 2]);
  wire(frozen);
  wire([profile, profile] as const);
  // undefined: an omitted property, a null array element, an absent payload.
  wire({ a: undefined });
  wire([1, undefined]);
  wire(undefined);

  // @ts-expect-error a Date is not a wire value
  wire(new Date());
  // @ts-expect-error a Map is not a wire value
  wire(new Map<string, number>());
  // @ts-expect-error a Set is not a wire value
  wire(new Set([1]));
  // @ts-expect-error a function is not a wire value
  wire(() => 1);
  // @ts-expect-error a symbol is not a wire value
  wire(Symbol('s'));
  // @ts-expect-error a class instance with methods is not a wire value
  wire(new Point(1, 2));
  // @ts-expect-error nested: a Date in a field
  wire(stamped);
  // @ts-expect-error nested: a Map deep in an array
  wire(catalog);
  // @ts-expect-error nested: a function in an object literal
  wire({ ok: 1, callback: () => undefined });
  // @ts-expect-error nested: a Date in an array
  wire([1, new Date()]);
  // @ts-expect-error other typed arrays are not byte strings
  wire(new Uint16Array(2));
}

export async function nodeMethods(node: PeerNet, peer: PeerId, profile: Profile, stamped: Stamped): Promise<void> {
  await node.call(peer, 'save', profile);
  await node.call(peer, 'ping');
  await node.send(peer, 'log', { line: 'x', level: undefined });
  const reply: WireValue = await node.call(peer, 'echo', [1, 2]);
  void reply;
  // @ts-expect-error call: a Date in the arguments
  await node.call(peer, 'save', stamped);
  // @ts-expect-error send: a Map as the arguments
  await node.send(peer, 'log', new Map());
  // @ts-expect-error call: a function as the arguments
  await node.call(peer, 'run', () => 1);

  node.expose('profile', () => profile);
  node.expose('nothing', () => undefined);
  node.expose('log', (args) => {
    void args;
  });
  node.expose('async', async () => ({ ok: true, list: [1, 2] }));
  node.expose('echo', (args, { peer: from }) => ({ from: from.toString(), args }));
  // @ts-expect-error expose: a handler that returns a Date
  node.expose('when', () => new Date());
  // @ts-expect-error expose: a handler that resolves to a Map
  node.expose('table', async () => new Map<string, number>());
  // @ts-expect-error expose: a handler whose result has a Date inside
  node.expose('stamped', () => stamped);
}

// A Connection takes WireValue itself: type literals, not interfaces (PeerNet's call and send take both).
export async function connectionMethods(connection: Connection, profile: { name: string; tags?: string[] }): Promise<void> {
  await connection.call('save', profile);
  await connection.call('save', { name: 'x', nickname: undefined });
  await connection.send('tick');
  // @ts-expect-error Connection.call: a Set as the arguments
  await connection.call('save', new Set([1]));
  // @ts-expect-error Connection.send: a Date in a field
  await connection.send('tick', { at: new Date() });
  // @ts-expect-error Connection.call: a function as the arguments
  await connection.call('run', () => 1);
}

export async function rpc(node: RpcNode, peer: PeerId): Promise<void> {
  const api = {
    rename: (name: string, profile?: Profile) => ({ name, profile }),
    list: async (filter: { tags?: readonly string[] }) => [filter],
    whoami: withContext((ctx: RpcContext, verbose?: boolean) => (verbose ? ctx.peer.toString() : null)),
    version: '1.0',
  };
  serve(node, 'api', api);
  const remote = client<typeof api>(node, peer, 'api');
  await remote.rename('x', { name: 'x', tags: [] });
  await remote.whoami(true);
  await caster<typeof api>(node, peer, 'api').list({});

  // @ts-expect-error serve: a method that takes a Date
  serve(node, 'clock', { set: (when: Date) => when.getTime() });
  // @ts-expect-error serve: a method that returns a Map
  serve(node, 'table', { get: () => new Map<string, number>() });
  // @ts-expect-error serve: a method that resolves to a class instance
  serve(node, 'geo', { origin: async () => new Point(0, 0) });

  interface Clock {
    set(when: Date): void;
    now(): number;
  }
  // @ts-expect-error client: an API whose method takes a Date
  client<Clock>(node, peer, 'clock');
  // @ts-expect-error caster: an API whose method takes a Date
  caster<Clock>(node, peer, 'clock');
}
