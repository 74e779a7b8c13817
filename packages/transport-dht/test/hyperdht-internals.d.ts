// The one hyperdht internal the adversary tests use: the Noise IK wrapper a
// DHT server answers handshakes with (its `createHandshake` option's default).
declare module 'hyperdht/lib/noise-wrap.js' {
  import type { KeyPair } from 'hyperdht';

  export default class NoiseWrap {
    constructor(keyPair: KeyPair, remotePublicKey: Buffer | null);
    send(payload: unknown): Buffer;
    recv(message: Buffer): unknown;
    final(): unknown;
  }
}
