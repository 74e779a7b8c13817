import { BadRequestError, ForbiddenError, TimeoutError, type PeerId } from '@peernet/interface';
import { callMethod, castMethod, client, serve, withContext, type RpcContext } from '@peernet/rpc';
import { cleanup, deferred, pair, rejection } from './helpers.js';

afterEach(cleanup);

describe('only own, enumerable function properties are callable', () => {
  class Base {
    inherited(): string {
      return 'inherited ran';
    }
  }
  class Impl extends Base {
    readonly ok = (): string => 'ok';
    readonly data = 42;
    readonly nested = { deep: (): string => 'deep ran' };
    onPrototype(): string {
      return 'prototype ran';
    }
  }

  it('answers no_such_handle for anything else, and never runs it', async () => {
    const { a, b } = await pair();
    let getterRan = false;
    const impl = new Impl();
    Object.defineProperty(impl, 'getter', {
      enumerable: true,
      get() {
        getterRan = true;
        return () => 'getter ran';
      },
    });
    Object.defineProperty(impl, 'hidden', { enumerable: false, value: () => 'hidden ran' });
    const symbol = Symbol('secret');
    (impl as unknown as Record<symbol, () => string>)[symbol] = () => 'symbol ran';
    serve(b, 'svc', impl);

    expect(await callMethod(a, b.id, 'svc', 'ok')).toBe('ok');
    const refused = [
      'constructor',
      'toString',
      'toLocaleString',
      '__proto__',
      'hasOwnProperty',
      'isPrototypeOf',
      'propertyIsEnumerable',
      'valueOf',
      '__defineGetter__',
      '__defineSetter__',
      '__lookupGetter__',
      'data',
      'nested',
      'nested.deep',
      'onPrototype',
      'inherited',
      'getter',
      'hidden',
      'secret',
      String(symbol),
      'missing',
    ];
    for (const method of refused) {
      const error = await rejection(callMethod(a, b.id, 'svc', method));
      expect({ method, code: error.code }).toEqual({ method, code: 'no_such_handle' });
      expect(error.message).toContain(`'svc' has no method ${JSON.stringify(method)}`);
    }
    expect(getterRan).toBe(false);
    // The object is intact after all that probing.
    expect(Object.getPrototypeOf(impl)).toBe(Impl.prototype);
    expect(await callMethod(a, b.id, 'svc', 'ok')).toBe('ok');
  });

  it('does not reach Object.prototype through an object literal either', async () => {
    const { a, b } = await pair();
    serve(b, 'plain', { hello: () => 'hi' });
    for (const method of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      expect((await rejection(callMethod(a, b.id, 'plain', method, [{}]))).code).toBe('no_such_handle');
    }
  });

  it('serves own functions with names the client proxy reserves, through callMethod', async () => {
    const { a, b } = await pair();
    serve(b, 'odd', { toString: () => 'remote toString', then: () => 'remote then' });
    expect(await callMethod(a, b.id, 'odd', 'toString')).toBe('remote toString');
    expect(await callMethod(a, b.id, 'odd', 'then')).toBe('remote then');
  });

  it('quotes long method names short', async () => {
    const { a, b } = await pair();
    serve(b, 'svc', {});
    const error = await rejection(callMethod(a, b.id, 'svc', 'x'.repeat(10_000)));
    expect(error.code).toBe('no_such_handle');
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('authorize', () => {
  it('is asked per call with the peer and method; false, throw or rejection → forbidden, method not run', async () => {
    const { a, b } = await pair();
    const asked: [string, string][] = [];
    const ran: string[] = [];
    const impl = {
      status: () => (ran.push('status'), 'up'),
      reboot: () => (ran.push('reboot'), 'rebooting'),
      wipe: () => (ran.push('wipe'), 'wiped'),
      format: () => (ran.push('format'), 'formatted'),
    };
    serve(b, 'admin', impl, {
      authorize: async (peer: PeerId, method: string) => {
        asked.push([peer.toString(), method]);
        if (method === 'wipe') throw new Error('policy store unavailable');
        if (method === 'format') return Promise.reject(new Error('nope'));
        return method === 'status';
      },
    });
    const admin = client<typeof impl>(a, b.id, 'admin');
    expect(await admin.status()).toBe('up');
    for (const method of ['reboot', 'wipe', 'format'] as const) {
      const error = await rejection(admin[method]());
      expect(error).toMatchObject({ code: 'forbidden', message: `not allowed to call "${method}" on 'admin'` });
    }
    expect(ran).toEqual(['status']);
    const me = a.id.toString();
    expect(asked).toEqual([
      [me, 'status'],
      [me, 'reboot'],
      [me, 'wipe'],
      [me, 'format'],
    ]);
  });

  it('runs before the method lookup, so a refused peer cannot probe which methods exist', async () => {
    const { a, b } = await pair();
    serve(b, 'admin', { reboot: () => 'rebooting' }, { authorize: () => false });
    expect((await rejection(callMethod(a, b.id, 'admin', 'reboot'))).code).toBe('forbidden');
    expect((await rejection(callMethod(a, b.id, 'admin', 'no-such-method'))).code).toBe('forbidden');
    expect((await rejection(callMethod(a, b.id, 'admin', 'constructor'))).code).toBe('forbidden');
  });

  it('guards casts too', async () => {
    const { a, b } = await pair();
    const asked: string[] = [];
    const ran: string[] = [];
    serve(
      b,
      'admin',
      { wipe: () => void ran.push('wipe'), ping: () => (ran.push('ping'), 'pong') },
      { authorize: (_peer, method) => (asked.push(method), method === 'ping') },
    );
    await castMethod(a, b.id, 'admin', 'wipe');
    // Envelopes are handled in order: by the time the call is answered, the cast was refused.
    expect(await callMethod(a, b.id, 'admin', 'ping')).toBe('pong');
    expect(asked).toEqual(['wipe', 'ping']);
    expect(ran).toEqual(['ping']);
  });
});

describe('errors reach the caller with their codes', () => {
  it('keeps PeerNet error codes and turns other errors into handler_error', async () => {
    const { a, b } = await pair();
    const impl = {
      forbidden(): never {
        throw new ForbiddenError('only the owner may do that');
      },
      badRequest: async (): Promise<never> => {
        throw new BadRequestError('temperature out of range');
      },
      timeout(): never {
        throw new TimeoutError('the device did not answer');
      },
      plain(): never {
        throw new Error('x');
      },
      notAnError(): never {
        throw 'a string'; // eslint-disable-line no-throw-literal
      },
      unsendable: () => new Map([[1, 2]]) as unknown as string,
    };
    serve(b, 'errors', impl);
    const remote = client<typeof impl>(a, b.id, 'errors');
    expect(await rejection(remote.forbidden())).toMatchObject({ code: 'forbidden', message: 'only the owner may do that' });
    expect(await rejection(remote.badRequest())).toMatchObject({ code: 'bad_request', message: 'temperature out of range' });
    expect(await rejection(remote.timeout())).toMatchObject({ code: 'timeout', message: 'the device did not answer' });
    const plain = await rejection(remote.plain());
    expect(plain).toMatchObject({ code: 'handler_error', message: 'x' });
    expect(plain.message).not.toMatch(/at /); // no stack trace
    expect(await rejection(remote.notAnError())).toMatchObject({ code: 'handler_error' });
    expect(await rejection(remote.unsendable())).toMatchObject({ code: 'handler_error' });
  });

  it('sends stack traces only when asked to', async () => {
    const { a, b } = await pair();
    serve(b, 'stack', { fail: () => { throw new Error('boom'); } }, { exposeErrorStack: true });
    const error = await rejection(callMethod(a, b.id, 'stack', 'fail'));
    expect(error.code).toBe('handler_error');
    expect(error.message).toMatch(/^Error: boom\n\s+at /);
  });
});

describe('malformed requests', () => {
  it.each([
    ['null', null],
    ['a string', 'reboot'],
    ['a number', 42],
    ['bytes', new Uint8Array([1, 2])],
    ['an array', ['reboot', []]],
    ['an empty map', {}],
    ['a map without params', { m: 'reboot' }],
    ['a map without method', { a: [] }],
    ['a non-string method', { m: 1, a: [] }],
    ['an empty method', { m: '', a: [] }],
    ['params that are not an array', { m: 'reboot', a: 'now' }],
    ['params that are a map', { m: 'reboot', a: { 0: 1 } }],
    ['an extra key', { m: 'reboot', a: [], x: 1 }],
  ])('answers bad_request for %s and runs nothing', async (_, args) => {
    const { a, b } = await pair();
    const ran = jest.fn();
    const asked = jest.fn(() => true);
    serve(b, 'admin', { reboot: ran }, { authorize: asked });
    const error = await rejection(a.call(b.id, 'admin', args));
    expect(error.code).toBe('bad_request');
    expect(ran).not.toHaveBeenCalled();
    expect(asked).not.toHaveBeenCalled();
  });

  it('rejects bad arguments locally with invalid_argument', async () => {
    const { a, b } = await pair();
    expect(() => serve(b, 'x', null as unknown as object)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => serve(b, 'x', 'str' as unknown as object)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => serve(b, '', {})).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => serve(b, 'x', {}, { authorize: true as never })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => client(a, 'not a peer id', 'x')).toThrow(expect.objectContaining({ code: 'invalid_peer_id' }));
    expect(() => client(a, b.id, '')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect((await rejection(callMethod(a, b.id, 'x', ''))).code).toBe('invalid_argument');
  });
});

describe('asymmetric trust', () => {
  it('serving grants one direction only', async () => {
    const { a, b } = await pair();
    const admin = {
      reboot: withContext((ctx: RpcContext, delay: number) => `rebooting in ${delay}s for ${ctx.peer.toString()}`),
    };
    serve(b, 'admin', admin);

    // A may use B's admin...
    expect(await client<typeof admin>(a, b.id, 'admin').reboot(5)).toBe(`rebooting in 5s for ${a.id.toString()}`);
    // ...but B cannot call back: A serves nothing.
    const back = await rejection(client<typeof admin>(b, a.id, 'admin').reboot(5));
    expect(back).toMatchObject({ code: 'no_such_handle', message: "no handler named 'admin'" });

    // Once A serves too, that direction works, separately.
    serve(a, 'status', { uptime: () => 99 });
    expect(await callMethod(b, a.id, 'status', 'uptime')).toBe(99);
    expect((await rejection(callMethod(a, b.id, 'status', 'uptime'))).code).toBe('no_such_handle');
  });
});

describe('close', () => {
  it('unexposes: later calls get no_such_handle; closing twice is fine', async () => {
    const { a, b } = await pair();
    const service = serve(b, 'admin', { ping: () => 'pong' });
    expect(service.name).toBe('admin');
    expect(await callMethod(a, b.id, 'admin', 'ping')).toBe('pong');
    service.close();
    service.close();
    expect((await rejection(callMethod(a, b.id, 'admin', 'ping'))).code).toBe('no_such_handle');
  });

  it('b.unexpose works the same', async () => {
    const { a, b } = await pair();
    serve(b, 'admin', { ping: () => 'pong' });
    expect(b.unexpose('admin')).toBe(true);
    expect((await rejection(callMethod(a, b.id, 'admin', 'ping'))).code).toBe('no_such_handle');
  });

  it('closing a service that a later serve replaced leaves the new one up', async () => {
    const { a, b } = await pair();
    const first = serve(b, 'admin', { version: () => 1 });
    const second = serve(b, 'admin', { version: () => 2 });
    expect(await callMethod(a, b.id, 'admin', 'version')).toBe(2);
    first.close();
    expect(await callMethod(a, b.id, 'admin', 'version')).toBe(2);
    second.close();
    expect((await rejection(callMethod(a, b.id, 'admin', 'version'))).code).toBe('no_such_handle');
  });

  it('a call already running when the service closes still completes', async () => {
    const { a, b } = await pair();
    const started = deferred();
    const release = deferred<string>();
    const service = serve(b, 'slow', {
      work: async () => {
        started.resolve();
        return release.promise;
      },
    });
    const pending = callMethod(a, b.id, 'slow', 'work');
    await started.promise;
    service.close();
    release.resolve('done');
    expect(await pending).toBe('done');
  });
});
