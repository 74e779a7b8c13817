import { inspect } from 'node:util';
import type { PeerNet } from 'peernet';
import { caster, client, RESERVED_NAMES, serve, type RpcNode } from '@peernet/rpc';
import { cleanup, pair } from './helpers.js';

afterEach(cleanup);

/** Wraps a node so the test sees every call and send that goes out. */
function counting(node: PeerNet): { node: RpcNode; outgoing: string[] } {
  const outgoing: string[] = [];
  return {
    outgoing,
    node: {
      expose: (name, handler, options) => node.expose(name, handler, options),
      unexpose: (name) => node.unexpose(name),
      call: (peer, name, args, options) => (outgoing.push(`call ${JSON.stringify(args)}`), node.call(peer, name, args, options)),
      send: (peer, name, args) => (outgoing.push(`send ${JSON.stringify(args)}`), node.send(peer, name, args)),
    },
  };
}

interface Api {
  ping(): string;
}

describe('the client proxy', () => {
  it('is not thenable: awaiting it makes no call', async () => {
    const { a, b } = await pair();
    const ran = jest.fn(() => 'pong');
    serve(b, 'svc', { ping: ran, then: ran });
    const { node, outgoing } = counting(a);
    const stub = client<Api>(node, b.id, 'svc');
    expect((stub as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await stub).toBe(stub);
    expect(await Promise.resolve(stub)).toBe(stub);
    const cast = caster<Api>(node, b.id, 'svc');
    expect(await cast).toBe(cast);
    expect(outgoing).toEqual([]);
    expect(await stub.ping()).toBe('pong');
    expect(outgoing).toEqual(['call {"m":"ping","a":[]}']);
    expect(ran).toHaveBeenCalledTimes(1);
  });

  it('converts to a string, serialises and inspects without calling out', async () => {
    const { a, b } = await pair();
    const { node, outgoing } = counting(a);
    const stub = client<Api>(node, b.id, 'svc');
    const description = `[RpcClient 'svc' on ${b.id.toString()}]`;
    expect(String(stub)).toBe(description);
    expect(`${stub}`).toBe(description);
    expect(stub + '').toBe(description);
    expect(stub.toString()).toBe(description);
    expect(Object.prototype.toString.call(stub)).toBe('[object RpcClient]');
    expect(JSON.stringify(stub)).toBe('{}');
    expect(JSON.stringify({ stub })).toBe('{"stub":{}}');
    expect(typeof inspect(stub)).toBe('string');
    expect(Object.keys(stub)).toEqual([]);
    expect('ping' in stub).toBe(false);
    expect(String(caster<Api>(node, b.id, 'svc'))).toBe(`[RpcCaster 'svc' on ${b.id.toString()}]`);
    expect(outgoing).toEqual([]);
  });

  it('ignores symbols and reserved names; method stubs are stable and read-only', async () => {
    const { a, b } = await pair();
    const { node, outgoing } = counting(a);
    const stub = client<Api>(node, b.id, 'svc') as unknown as Record<string | symbol, unknown>;
    expect(stub[Symbol.iterator]).toBeUndefined();
    expect(stub[Symbol.asyncIterator]).toBeUndefined();
    expect(stub[inspect.custom]).toBeUndefined();
    for (const name of RESERVED_NAMES.filter((n) => n !== 'toString')) expect(stub[name]).toBeUndefined();
    expect(stub.ping).toBe(stub.ping);
    expect(typeof stub.ping).toBe('function');
    expect((stub.ping as () => unknown).name).toBe('ping');
    expect(() => {
      stub.ping = () => 'local';
    }).toThrow(TypeError);
    expect(() => delete stub.ping).toThrow(TypeError);
    expect(Object.getPrototypeOf(stub)).toBeNull();
    expect(outgoing).toEqual([]);
  });
});
