import fc from 'fast-check';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { KeyedCipherState } from '../src/cipher-state.js';
import {
  createHandshake,
  defaultCrypto,
  generateKeyPair,
  MAX_PLAINTEXT_LENGTH,
  nodeCrypto,
  pureJsCrypto,
  type CipherState,
  type CryptoProvider,
} from '../src/index.js';
import { caught, offsetView, toHex, utf8 } from './helpers.js';

const MAX_NONCE = (1n << 64n) - 1n;

function transport(crypto: CryptoProvider): { send: CipherState; receive: CipherState; back: CipherState } {
  const initiator = createHandshake({ initiator: true, prologue: utf8('t'), staticKeyPair: generateKeyPair(crypto), crypto });
  const responder = createHandshake({ initiator: false, prologue: utf8('t'), staticKeyPair: generateKeyPair(crypto), crypto });
  responder.readMessage(initiator.writeMessage());
  initiator.readMessage(responder.writeMessage());
  responder.readMessage(initiator.writeMessage());
  const i = initiator.split();
  const r = responder.split();
  return { send: i.send, receive: r.receive, back: r.send };
}

/** The spec's nonce encoding, computed independently: 4 zero bytes, then 8 bytes little-endian. */
function nonceBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(12);
  new DataView(out.buffer).setBigUint64(4, n, true);
  return out;
}

describe.each([
  ['pure-js', pureJsCrypto],
  ['node', nodeCrypto],
  ['default', defaultCrypto],
])('CipherState (%s)', (_name, crypto) => {
  it('encryptInto writes exactly what encrypt returns, in place, at every size class', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
    const a = new KeyedCipherState(crypto.aead(key));
    const b = new KeyedCipherState(crypto.aead(key));
    for (const size of [0, 1, 63, 255, 256, 2047, 2048, 4096, MAX_PLAINTEXT_LENGTH]) {
      const plaintext = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
      const out = new Uint8Array(size + 16 + 10).fill(0xee);
      expect(b.encryptInto(plaintext, out, 5, utf8('ad'))).toBe(size + 16);
      expect(toHex(out.subarray(5, 5 + size + 16))).toBe(toHex(a.encrypt(plaintext, utf8('ad'))));
      expect([...out.subarray(0, 5), ...out.subarray(size + 21)]).toEqual(new Array(10).fill(0xee));
    }
    expect(b.nonce).toBe(a.nonce);
    expect(caught(() => b.encryptInto(new Uint8Array(10), new Uint8Array(25), 0))).toMatchObject({ code: 'invalid_argument' });
    expect(b.nonce).toBe(a.nonce);
  });

  it('encryptDetached returns what encrypt returns, as ciphertext and tag, at every size class', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => 7 + i);
    const a = new KeyedCipherState(crypto.aead(key));
    const b = new KeyedCipherState(crypto.aead(key));
    const receiver = new KeyedCipherState(crypto.aead(key));
    for (const size of [0, 1, 255, 256, 2048, 16_384, MAX_PLAINTEXT_LENGTH]) {
      const plaintext = Uint8Array.from({ length: size }, (_, i) => (i * 13 + size) & 0xff);
      const [ciphertext, tag] = b.encryptDetached(plaintext, utf8('ad'));
      expect(ciphertext.length).toBe(size);
      expect(tag.length).toBe(16);
      const joined = toHex(ciphertext) + toHex(tag);
      expect(joined).toBe(toHex(a.encrypt(plaintext, utf8('ad'))));
      expect(toHex(receiver.decrypt(Buffer.from(joined, 'hex'), utf8('ad')))).toBe(toHex(plaintext));
    }
    expect(b.nonce).toBe(a.nonce);
    expect(caught(() => b.encryptDetached(new Uint8Array(MAX_PLAINTEXT_LENGTH + 1)))).toMatchObject({ code: 'message_too_large' });
    expect(b.nonce).toBe(a.nonce);
  });

  it('counts nonces from 0 per direction', () => {
    const { send, receive, back } = transport(crypto);
    expect(send.nonce).toBe(0n);
    receive.decrypt(send.encrypt(utf8('a')));
    receive.decrypt(send.encrypt(utf8('b')));
    expect(send.nonce).toBe(2n);
    expect(receive.nonce).toBe(2n);
    expect(back.nonce).toBe(0n);
  });

  it('encodes the nonce as 4 zero bytes and a 64-bit little-endian counter, across the u32 boundary', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
    const state = new KeyedCipherState(crypto.aead(key));
    const ad = utf8('ad');
    for (const n of [0n, 1n, 0xffff_fffen, 0xffff_ffffn, 0x1_0000_0000n, 0x0102_0304_0506_0708n, MAX_NONCE - 1n]) {
      state.setNonce(n);
      const plaintext = utf8(`message at ${n}`);
      const expected = chacha20poly1305(key, nonceBytes(n), ad).encrypt(plaintext);
      expect(toHex(state.encrypt(plaintext, ad))).toBe(toHex(expected));
      expect(state.nonce).toBe(n + 1n);
    }
    // Incrementing across the halves carries into the high word.
    state.setNonce(0xffff_ffffn);
    state.encrypt(new Uint8Array(0));
    expect(state.nonce).toBe(0x1_0000_0000n);
  });

  it('refuses nonce 2^64-1 (reserved by the spec) for encrypt and decrypt', () => {
    const { send, receive } = transport(crypto);
    send.setNonce(MAX_NONCE - 1n);
    receive.setNonce(MAX_NONCE - 1n);
    expect(receive.decrypt(send.encrypt(utf8('last')))).toEqual(utf8('last'));
    expect(send.nonce).toBe(MAX_NONCE);
    expect(caught(() => send.encrypt(utf8('one more')))).toMatchObject({ code: 'nonce_exhausted', name: 'NonceExhaustedError' });
    expect(caught(() => receive.decrypt(new Uint8Array(32))).code).toBe('nonce_exhausted');
    expect(send.nonce).toBe(MAX_NONCE);
  });

  it('validates setNonce', () => {
    const { send } = transport(crypto);
    expect(caught(() => send.setNonce(-1n)).code).toBe('invalid_argument');
    expect(caught(() => send.setNonce(MAX_NONCE + 1n)).code).toBe('invalid_argument');
    expect(caught(() => send.setNonce(1.5)).code).toBe('invalid_argument');
    expect(caught(() => send.setNonce('3' as never)).code).toBe('invalid_argument');
    send.setNonce(42);
    expect(send.nonce).toBe(42n);
  });

  it('leaves the nonce unchanged when decryption fails', () => {
    const { send, receive } = transport(crypto);
    const first = send.encrypt(utf8('first'));
    const tampered = Uint8Array.from(first);
    tampered[0]! ^= 1;
    expect(caught(() => receive.decrypt(tampered))).toMatchObject({ code: 'decrypt_failed', name: 'DecryptError' });
    expect(caught(() => receive.decrypt(first.subarray(0, 15))).code).toBe('decrypt_failed');
    expect(caught(() => receive.decrypt(first, utf8('wrong ad'))).code).toBe('decrypt_failed');
    expect(caught(() => receive.decrypt(Uint8Array.of(...first, 0))).code).toBe('decrypt_failed');
    expect(receive.nonce).toBe(0n);
    expect(receive.decrypt(first)).toEqual(utf8('first'));
    expect(receive.nonce).toBe(1n);
    // A replay is decrypted at the next nonce and fails.
    expect(caught(() => receive.decrypt(first)).code).toBe('decrypt_failed');
  });

  it('authenticates associated data', () => {
    const { send, receive } = transport(crypto);
    const ad = offsetView(utf8('header'), 3);
    expect(receive.decrypt(send.encrypt(utf8('body'), ad), utf8('header'))).toEqual(utf8('body'));
  });

  it('refuses messages over the Noise limit', () => {
    const { send, receive } = transport(crypto);
    expect(MAX_PLAINTEXT_LENGTH).toBe(65519);
    expect(caught(() => send.encrypt(new Uint8Array(MAX_PLAINTEXT_LENGTH + 1))).code).toBe('message_too_large');
    expect(send.nonce).toBe(0n);
    expect(caught(() => receive.decrypt(new Uint8Array(65536))).code).toBe('message_too_large');
    const max = send.encrypt(new Uint8Array(MAX_PLAINTEXT_LENGTH));
    expect(max).toHaveLength(65535);
    expect(receive.decrypt(max)).toHaveLength(MAX_PLAINTEXT_LENGTH);
  });

  it('validates argument types', () => {
    const { send, receive } = transport(crypto);
    expect(caught(() => send.encrypt('text' as never)).code).toBe('invalid_argument');
    expect(caught(() => send.encrypt(new Uint8Array(1), [1] as never)).code).toBe('invalid_argument');
    expect(caught(() => receive.decrypt(null as never)).code).toBe('invalid_argument');
  });

  it('round-trips random messages, including subarray views, in order', () => {
    const { send, receive } = transport(crypto);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 9 }), (data, ad, offset) => {
        const ciphertext = send.encrypt(offset === 0 ? data : offsetView(data, offset), ad);
        expect(ciphertext).toHaveLength(data.length + 16);
        expect(receive.decrypt(offsetView(ciphertext, offset + 1), offsetView(ad))).toEqual(data);
      }),
      { numRuns: 60 },
    );
  });
});
