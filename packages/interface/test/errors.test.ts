import {
  ForbiddenError,
  HandlerError,
  PeerNetError,
  WIRE_ERROR_CODES,
  errorFromWire,
  isPeerNetError,
  isWireErrorCode,
} from '@peernet/interface';

describe('errors', () => {
  it('rebuilds every wire code as its own class with that code', () => {
    const names = new Set<string>();
    for (const code of WIRE_ERROR_CODES) {
      const error = errorFromWire(code, 'remote said so');
      expect(error).toBeInstanceOf(PeerNetError);
      expect(error.code).toBe(code);
      expect(error.message).toBe('remote said so');
      names.add(error.name);
    }
    expect(names.size).toBe(WIRE_ERROR_CODES.length);
  });

  it('maps unknown or local-only codes from the wire to handler_error', () => {
    expect(errorFromWire('invalid_keyfile', 'x')).toBeInstanceOf(HandlerError);
    expect(errorFromWire('__proto__', 'x').code).toBe('handler_error');
    expect(isWireErrorCode('toString')).toBe(false);
    expect(isWireErrorCode('forbidden')).toBe(true);
  });

  it('names errors after their class and keeps the cause', () => {
    const cause = new Error('inner');
    const error = new ForbiddenError('no', { cause });
    expect(error.name).toBe('ForbiddenError');
    expect(error.cause).toBe(cause);
    expect(isPeerNetError(error)).toBe(true);
    expect(isPeerNetError(new Error('plain'))).toBe(false);
  });
});
