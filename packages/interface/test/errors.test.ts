import {
  FileError,
  ForbiddenError,
  HandlerError,
  LOCAL_ERROR_CODES,
  PeerNetError,
  UnsafePermissionsError,
  WIRE_ERROR_CODES,
  errorFromWire,
  isErrorCode,
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

  it('knows its own codes from the codes of Node errors', () => {
    for (const code of [...WIRE_ERROR_CODES, ...LOCAL_ERROR_CODES]) expect(isErrorCode(code)).toBe(true);
    for (const code of ['ECONNRESET', 'ERR_STREAM_DESTROYED', 'toString', '', 42, undefined]) expect(isErrorCode(code)).toBe(false);
    const nodeError = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isPeerNetError(nodeError) && isErrorCode(nodeError.code)).toBe(false);
  });

  it('gives every error about a file its path, when known', () => {
    const unsafe = new UnsafePermissionsError('bad', { path: '/data/node', problem: 'writable' });
    expect(unsafe).toBeInstanceOf(FileError);
    expect({ code: unsafe.code, path: unsafe.path, problem: unsafe.problem }).toEqual({
      code: 'unsafe_permissions',
      path: '/data/node',
      problem: 'writable',
    });
    expect(new FileError('invalid_keyfile', 'gone').path).toBeUndefined();
    expect(new FileError('corrupt_trust_store', 'bad', { path: '/data/trust.json' }).path).toBe('/data/trust.json');
  });
});
