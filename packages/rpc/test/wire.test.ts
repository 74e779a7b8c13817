import fc from 'fast-check';
import { BadRequestError, InvalidArgumentError } from '@peernet/interface';
import { encodeRequest, parseRequest } from '@peernet/rpc';

// The node-level behaviour of serve/client (proxies, authorize, asymmetry,
// errors across the wire) is tested with real nodes in packages/peernet/test/rpc-*.

describe('encodeRequest', () => {
  it('builds { m, a } and refuses what cannot cross the wire', () => {
    expect(encodeRequest('reboot', [30, 'now'])).toEqual({ m: 'reboot', a: [30, 'now'] });
    expect(() => encodeRequest('', [])).toThrow(InvalidArgumentError);
    expect(() => encodeRequest('x', [1, undefined])).toThrow(/argument 1 of "x" is undefined/);
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
