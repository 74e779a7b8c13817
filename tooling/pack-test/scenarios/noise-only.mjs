// Scenario (a): @peernet/identity and @peernet/noise on their own, as a
// project that wants the handshake without the rest of PeerNet would use them.
// Prints one JSON line with what it checked; any failed check throws.
import assert from 'node:assert/strict';
import { formatPeerId, generateIdentity, x25519PublicKeyOf } from '@peernet/identity';
import { PROTOCOL_NAME, createHandshake } from '@peernet/noise';

const text = (s) => new TextEncoder().encode(s);
const show = (b) => new TextDecoder().decode(b);
const same = (a, b) => Buffer.from(a).equals(Buffer.from(b));

const alice = generateIdentity();
const bob = generateIdentity();
const prologue = text('pack-test/1');
const initiator = createHandshake({ initiator: true, prologue, staticKeyPair: alice.noiseKeyPair() });
const responder = createHandshake({ initiator: false, prologue, staticKeyPair: bob.noiseKeyPair() });

// -> e
responder.readMessage(initiator.writeMessage());
// <- e, ee, s, es
const hello = show(initiator.readMessage(responder.writeMessage(text('bob here'))));
// The initiator knows the responder's static key now, before it says who it is.
assert.ok(same(initiator.remoteStaticKey, x25519PublicKeyOf(bob.id)), 'initiator sees bob’s key');
// -> s, se
const reply = show(responder.readMessage(initiator.writeMessage(text('alice here'))));
assert.ok(same(responder.remoteStaticKey, x25519PublicKeyOf(alice.id)), 'responder sees alice’s key');
assert.ok(!same(responder.remoteStaticKey, x25519PublicKeyOf(bob.id)), 'keys are distinct');
assert.ok(initiator.isComplete && responder.isComplete);
assert.ok(same(initiator.handshakeHash, responder.handshakeHash), 'same handshake hash');

const a = initiator.split();
const b = responder.split();
const wire = a.send.encrypt(text('first transport message'));
const received = show(b.receive.decrypt(wire));
const back = show(a.receive.decrypt(b.send.encrypt(text('and back'))));

// A tampered message must not decrypt.
const tampered = a.send.encrypt(text('tamper with me'));
tampered[0] ^= 1;
assert.throws(() => b.receive.decrypt(tampered), (error) => error.code === 'decrypt_failed');

console.log(
  JSON.stringify({
    protocol: PROTOCOL_NAME,
    alice: formatPeerId(alice.id),
    bob: formatPeerId(bob.id),
    hello,
    reply,
    received,
    back,
    ciphertextBytes: wire.length,
  }),
);
