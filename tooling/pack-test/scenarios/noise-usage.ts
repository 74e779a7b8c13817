// Type-checked against the declarations of the installed @peernet/identity and
// @peernet/noise tarballs (never run). Each @ts-expect-error fails the check if
// its line stops being an error, so the types cannot silently become `any`.
import { generateIdentity, x25519PublicKeyOf, type Identity, type PeerId } from '@peernet/identity';
import { createHandshake, type CipherState, type Handshake, type KeyPair } from '@peernet/noise';

export function start(initiator: boolean): { me: Identity; handshake: Handshake } {
  const me: Identity = generateIdentity();
  const keys: KeyPair = me.noiseKeyPair();
  // @ts-expect-error initiator is a boolean
  createHandshake({ initiator: 'yes', prologue: new Uint8Array(), staticKeyPair: keys });
  return { me, handshake: createHandshake({ initiator, prologue: new Uint8Array(), staticKeyPair: keys }) };
}

export function finish(handshake: Handshake, expected: PeerId): { send: CipherState; receive: CipherState } {
  const remote: Uint8Array | undefined = handshake.remoteStaticKey;
  if (remote === undefined || !Buffer.from(remote).equals(x25519PublicKeyOf(expected))) throw new Error('wrong peer');
  const ciphers = handshake.split();
  // @ts-expect-error a CipherState encrypts bytes, not strings
  ciphers.send.encrypt('text');
  return ciphers;
}
