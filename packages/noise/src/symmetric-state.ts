import { concat } from './bytes.js';
import { HASHLEN, PROTOCOL_NAME } from './constants.js';
import { KeyedCipherState } from './cipher-state.js';
import type { CryptoProvider } from './crypto/provider.js';

const PROTOCOL_NAME_BYTES = new TextEncoder().encode(PROTOCOL_NAME);
if (PROTOCOL_NAME_BYTES.length !== HASHLEN) throw new Error('protocol name must be exactly HASHLEN bytes');
const BYTE_1 = Uint8Array.of(1);
const BYTE_2 = Uint8Array.of(2);

/**
 * The spec's SymmetricState (section 5.2). Byte arrays are replaced, never
 * written in place, so `clone()` can share them safely.
 */
export class SymmetricState {
  readonly crypto: CryptoProvider;
  ck: Uint8Array;
  h: Uint8Array;
  cipher: KeyedCipherState | undefined;

  private constructor(crypto: CryptoProvider, ck: Uint8Array, h: Uint8Array, cipher: KeyedCipherState | undefined) {
    this.crypto = crypto;
    this.ck = ck;
    this.h = h;
    this.cipher = cipher;
  }

  /** InitializeSymmetric: the name is exactly HASHLEN bytes, so h is the name itself. */
  static initialize(crypto: CryptoProvider): SymmetricState {
    const h = PROTOCOL_NAME_BYTES.slice();
    return new SymmetricState(crypto, h.slice(), h, undefined);
  }

  clone(): SymmetricState {
    return new SymmetricState(this.crypto, this.ck, this.h, this.cipher?.clone());
  }

  get hasKey(): boolean {
    return this.cipher !== undefined;
  }

  mixHash(data: Uint8Array): void {
    this.h = this.crypto.sha256(this.h, data);
  }

  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, key] = this.#hkdf(inputKeyMaterial);
    this.ck = ck;
    this.cipher = new KeyedCipherState(this.crypto.aead(key));
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher === undefined ? plaintext : this.cipher.encrypt(plaintext, this.h);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher === undefined ? ciphertext : this.cipher.decrypt(ciphertext, this.h);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Split(): the initiator-to-responder state first. Wipes ck, which must never be used again. */
  split(): [KeyedCipherState, KeyedCipherState] {
    const [k1, k2] = this.#hkdf(new Uint8Array(0));
    const first = new KeyedCipherState(this.crypto.aead(k1));
    const second = new KeyedCipherState(this.crypto.aead(k2));
    this.ck.fill(0);
    return [first, second];
  }

  /** HKDF(ck, ikm) with two outputs, per spec section 4.3 (HMAC-SHA256). */
  #hkdf(inputKeyMaterial: Uint8Array): [Uint8Array, Uint8Array] {
    const tempKey = this.crypto.hmacSha256(this.ck, inputKeyMaterial);
    const output1 = this.crypto.hmacSha256(tempKey, BYTE_1);
    const output2 = this.crypto.hmacSha256(tempKey, concat(output1, BYTE_2));
    tempKey.fill(0);
    return [output1, output2];
  }
}
