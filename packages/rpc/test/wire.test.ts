import fc from 'fast-check';
import { BadRequestError, InvalidArgumentError, TimeoutError } from '@peernet/interface';
import { encodeRequest, parseRequest } from '@peernet/rpc';
import { renameArgumentError } from '../src/wire.js';

// The node-level behaviour of serve/client (proxies, authorize, asymmetry,
// errors across the wire) is tested with real nodes in packages/peernet/test/rpc-*.

describe('encodeRequest', () => {
  it('builds { m, a } and refuses a bad method name', () => {
    expect(encodeRequest('reboot', [30, 'now'])).toEqual({ m: 'reboot', a: [30, 'now'] });
    expect(() => encodeRequest('', [])).toThrow(InvalidArgumentError);
  });

  it('leaves out trailing undefined params, as if not passed, and keeps the others in place', () => {
    expect(encodeRequest('x', [1, undefined])).toEqual({ m: 'x', a: [1] });
    expect(encodeRequest('x', [undefined, undefined])).toEqual({ m: 'x', a: [] });
    // One before a passed param stays, and the encoder writes it as null.
    expect(encodeRequest('x', [undefined, 2, undefined])).toEqual({ m: 'x', a: [undefined, 2] });
  });
});

describe('renameArgumentError', () => {
  it("names a param that cannot be encoded from the caller's side", () => {
    const encoded = new BadRequestError('args.a[0].when: Date is not a wire value', { valuePath: ['a', 0, 'when'] });
    const renamed = renameArgumentError(encoded, 'setClock') as BadRequestError;
    expect(renamed).toBeInstanceOf(BadRequestError);
    expect(renamed.message).toBe('"setClock" argument 0.when: Date is not a wire value');
    expect(renamed.valuePath).toEqual(['when']);
    expect(renamed.cause).toBe(encoded);
    const whole = new BadRequestError('args.a[2]: function is not a wire value', { valuePath: ['a', 2] });
    expect((renameArgumentError(whole, 'run') as Error).message).toBe('"run" argument 2: function is not a wire value');
  });

  it('leaves alone errors that did not come from encoding our own params', () => {
    const fromPeer = new BadRequestError('args.a[0]: Date is not a wire value'); // no valuePath: it came over the wire
    const other = new TimeoutError();
    const elsewhere = new BadRequestError('args.m: x', { valuePath: ['m'] });
    for (const error of [fromPeer, other, elsewhere, new Error('x'), 'text']) {
      expect(renameArgumentError(error, 'm')).toBe(error);
    }
  });
});

describe('parseRequest', () => {
  it('accepts exactly a map of m (non-empty text) and a (array)', () => {
    expect(parseRequest({ m: 'x', a: [] })).toEqual({ m: 'x', a: [] });
    const bad: unknown[] = [null, 1, 'x', [], new Uint8Array(2), {}, { m: 'x' }, { m: 'x', a: [], b: 1 }, { m: '', a: [] }, { m: 1, a: [] }, { m: 'x', a: {} }];
    for (const value of bad) expect(() => parseRequest(value as never)).toThrow(BadRequestError);
  });

  it('quotes long method names shortly in its errors', () => {
    expect(() => parseRequest({ m: 'n'.repeat(10_000), a: 1 })).toThrow(/^.{1,200}$/);
  });

  it('round-trips every encodable request and throws only BadRequestError on anything else', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.array(fc.jsonValue()), (m, a) => {
        expect(parseRequest(encodeRequest(m, a) as never)).toEqual({ m, a });
      }),
    );
    fc.assert(
      fc.property(fc.anything(), (value) => {
        try {
          parseRequest(value as never);
        } catch (error) {
          expect(error).toBeInstanceOf(BadRequestError);
        }
      }),
    );
  });
});
