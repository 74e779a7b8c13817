// The few sodium-native (5.x) functions this package calls. @types/sodium-native
// describes the 2.x API (Buffer-only, no IETF ChaCha20-Poly1305), so it is not used.
// Every function takes any typed array, views at an offset included, and throws an
// Error when libsodium returns a failure.
declare module 'sodium-native' {
  interface Sodium {
    randombytes_buf(buffer: Uint8Array): void;
    crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
    crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
    crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
    crypto_hash_sha256_init(state: Uint8Array): void;
    crypto_hash_sha256_update(state: Uint8Array, input: Uint8Array): void;
    crypto_hash_sha256_final(state: Uint8Array, out: Uint8Array): void;
    readonly crypto_hash_sha256_STATEBYTES: number;
    crypto_aead_chacha20poly1305_ietf_encrypt(
      c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array,
    ): number;
    crypto_aead_chacha20poly1305_ietf_decrypt(
      m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array,
    ): number;
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array,
    ): number;
    crypto_aead_chacha20poly1305_ietf_decrypt_detached(
      m: Uint8Array, nsec: null, c: Uint8Array, mac: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array,
    ): void;
  }
  const sodium: Sodium;
  export = sodium;
}
