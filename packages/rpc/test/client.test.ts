import { PeerId, type CallOptions, type Value } from '@peernet/interface';
import { callMethod, client, type RpcNode } from '@peernet/rpc';

// A node that answers every call with the options it was given: what the
// client passes on is the whole point here (real nodes: packages/peernet/test/rpc-*).
function optionsEcho(): RpcNode {
  return {
    expose: () => undefined,
    unexpose: () => false,
    call: (_peer, _name, _args, options?: CallOptions) => Promise.resolve({ ...options } as Value),
    send: () => Promise.resolve(),
  };
}

const peer = PeerId.fromBytes(new Uint8Array(32).fill(7));

describe('call options', () => {
  it('pass timeoutMs on, and the deprecated timeout as timeoutMs when timeoutMs is absent', async () => {
    const node = optionsEcho();
    const signal = new AbortController().signal;
    expect(await callMethod(node, peer, 'svc', 'm', [], { timeoutMs: 100, signal })).toEqual({ timeoutMs: 100, signal });
    expect(await callMethod(node, peer, 'svc', 'm', [], { timeout: 200 })).toEqual({ timeoutMs: 200 });
    expect(await callMethod(node, peer, 'svc', 'm', [], { timeoutMs: 100, timeout: 200 })).toEqual({ timeoutMs: 100 });
    expect(await callMethod(node, peer, 'svc', 'm')).toEqual({});
    const remote = client<{ m(): void }>(node, peer, 'svc', { timeoutMs: 300 });
    expect(await remote.m()).toEqual({ timeoutMs: 300 });
  });
});
