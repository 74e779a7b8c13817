import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { ED25519_TORSION_SUBGROUP, ed25519, x25519 } from '@noble/curves/ed25519.js';
import { InvalidArgumentError, InvalidPeerIdError, PeerId } from '@peernet/interface';
import fc from 'fast-check';
import {
  formatPeerId,
  generateIdentity,
  identityFromSeed,
  parsePeerId,
  verify,
  x25519PublicKeyOf,
} from '../src/index.js';
import { scalarMult } from './fuzz-targets.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

// RFC 8032 section 7.1, tests 1 and 2.
const RFC1 = {
  secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  message: '',
  signature:
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
};
const RFC2 = {
  secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
  message: '72',
  signature:
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
};
// base32 (RFC 4648, lowercase, unpadded) of RFC1.public, computed independently.
const RFC1_PEER_ID = '25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkena';

describe('Ed25519 identity', () => {
  it.each([
    ['test 1', RFC1],
    ['test 2', RFC2],
  ])('matches RFC 8032 %s', (_, vector) => {
    const identity = identityFromSeed(hex(vector.secret));
    expect(toHex(identity.publicKey)).toBe(vector.public);
    expect(toHex(identity.id.bytes)).toBe(vector.public);
    expect(toHex(identity.sign(hex(vector.message)))).toBe(vector.signature);
    expect(verify({ publicKey: hex(vector.public), message: hex(vector.message), signature: hex(vector.signature) })).toBe(
      true,
    );
    expect(verify({ peerId: vector.public, message: hex(vector.message), signature: hex(vector.signature) })).toBe(true);
  });

  it('prints the RFC 8032 key as its base32 peer id', () => {
    const identity = identityFromSeed(hex(RFC1.secret));
    expect(identity.id.toString()).toBe(RFC1_PEER_ID);
    expect(formatPeerId(identity.id)).toBe(RFC1_PEER_ID);
    expect(formatPeerId(RFC1.public)).toBe(RFC1_PEER_ID);
    expect(formatPeerId(hex(RFC1.public))).toBe(RFC1_PEER_ID);
    expect(parsePeerId(RFC1_PEER_ID).equals(identity.id)).toBe(true);
    expect(parsePeerId(RFC1.public).toString()).toBe(RFC1_PEER_ID);
    expect(() => parsePeerId('not a peer id')).toThrow(InvalidPeerIdError);
  });

  it('signs and verifies, and rejects any change of message, signature or key', () => {
    const alice = generateIdentity();
    const bob = generateIdentity();
    expect(alice.id.equals(bob.id)).toBe(false);
    const message = new TextEncoder().encode('pair with me');
    const signature = alice.sign(message);
    expect(signature).toHaveLength(64);
    expect(verify({ peerId: alice.id, message, signature })).toBe(true);
    expect(verify({ peerId: alice.id.toString(), message, signature })).toBe(true);
    expect(verify({ publicKey: alice.publicKey, message, signature })).toBe(true);
    expect(verify({ peerId: bob.id, message, signature })).toBe(false);
    expect(verify({ peerId: alice.id, message: new TextEncoder().encode('pair with me!'), signature })).toBe(false);
    for (let i = 0; i < signature.length; i++) {
      const bad = Uint8Array.from(signature);
      bad[i] = (bad[i] as number) ^ 1;
      expect(verify({ peerId: alice.id, message, signature: bad })).toBe(false);
    }
  });

  it('returns false when publicKey and peerId disagree, or neither is given', () => {
    const alice = generateIdentity();
    const message = Uint8Array.of(1, 2, 3);
    const signature = alice.sign(message);
    expect(verify({ publicKey: alice.publicKey, peerId: alice.id, message, signature } as never)).toBe(true);
    expect(verify({ publicKey: alice.publicKey, peerId: generateIdentity().id, message, signature } as never)).toBe(false);
    expect(verify({ message, signature } as never)).toBe(false);
  });

  it('rejects a signature that is valid only under lax (ZIP-215) rules: a small-order key', () => {
    // With the identity point as key and R = identity, S = 0 verifies every message under
    // cofactored lax rules; strict RFC 8032 verification must refuse it.
    const identityPoint = hex(ED25519_TORSION_SUBGROUP[0] as string);
    const signature = new Uint8Array(64);
    signature.set(identityPoint, 0);
    expect(verify({ publicKey: identityPoint, message: Uint8Array.of(7), signature })).toBe(false);
  });

  it('never throws on hostile input', () => {
    const bytes = fc.uint8Array({ minLength: 0, maxLength: 80 });
    const keyish = fc.oneof(bytes, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.string(), fc.anything());
    fc.assert(
      fc.property(
        fc.record({
          message: fc.oneof(bytes, fc.anything()),
          signature: fc.oneof(bytes, fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.anything()),
          publicKey: fc.option(keyish, { nil: undefined }),
          peerId: fc.option(keyish, { nil: undefined }),
        }),
        (options) => {
          expect(verify(options as never)).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
    for (const hostile of [undefined, null, 42, 'x', [], () => 1, new Proxy({}, { get: () => { throw new Error('trap'); } })]) {
      expect(verify(hostile as never)).toBe(false);
    }
  });

  it('rejects random signatures for a real key without throwing', () => {
    const alice = generateIdentity();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (signature, message) => {
        expect(verify({ peerId: alice.id, message, signature })).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('validates seeds', () => {
    expect(() => identityFromSeed(new Uint8Array(31))).toThrow(InvalidArgumentError);
    expect(() => identityFromSeed(new Uint8Array(33))).toThrow(/32 bytes, got 33/);
    expect(() => identityFromSeed('00'.repeat(32) as never)).toThrow(InvalidArgumentError);
    expect(() => generateIdentity().sign('text' as never)).toThrow(InvalidArgumentError);
  });

  it('does not depend on the caller keeping the seed unchanged', () => {
    const seed = hex(RFC1.secret);
    const identity = identityFromSeed(seed);
    seed.fill(0);
    expect(toHex(identity.sign(new Uint8Array()))).toBe(RFC1.signature);
    identity.publicKey.fill(0);
    expect(toHex(identity.publicKey)).toBe(RFC1.public);
  });

  it('keeps the seed out of every printable or enumerable form', () => {
    const identity = identityFromSeed(hex(RFC1.secret));
    const { privateKey } = identity.noiseKeyPair();
    const secrets = [RFC1.secret, toHex(privateKey)];
    const forms = [
      String(identity),
      `${identity}`,
      JSON.stringify(identity),
      JSON.stringify({ identity }),
      inspect(identity, { showHidden: true, depth: Infinity }),
      inspect({ identity }, { showHidden: true, depth: Infinity, customInspect: false }),
      JSON.stringify(Object.entries(identity)),
      JSON.stringify(Object.getOwnPropertyNames(identity).map((k) => String((identity as never)[k]))),
    ];
    for (const form of forms) {
      for (const secret of secrets) {
        expect(form).not.toContain(secret);
        expect(form).not.toContain(Buffer.from(secret, 'hex').toString('base64'));
      }
    }
    expect(Reflect.ownKeys(identity)).toEqual(['id']);
    expect(String(identity)).toBe(`Identity(${RFC1_PEER_ID})`);
    expect(JSON.parse(JSON.stringify(identity))).toEqual({ id: RFC1_PEER_ID });
    expect(Object.isFrozen(identity)).toBe(true);
  });
});

describe('X25519 form for Noise', () => {
  it('derives the X25519 keypair from the Ed25519 key (RFC 7748 clamping of SHA-512(seed))', () => {
    const identity = identityFromSeed(hex(RFC1.secret));
    const { publicKey, privateKey } = identity.noiseKeyPair();
    const digest = createHash('sha512').update(hex(RFC1.secret)).digest();
    const expectedPrivate = Uint8Array.from(digest.subarray(0, 32));
    expectedPrivate[0] = (expectedPrivate[0] as number) & 248;
    expectedPrivate[31] = ((expectedPrivate[31] as number) & 127) | 64;
    expect(toHex(privateKey)).toBe(toHex(expectedPrivate));
    expect(toHex(x25519.getPublicKey(privateKey))).toBe(toHex(publicKey));
    expect(toHex(x25519PublicKeyOf(identity.id))).toBe(toHex(publicKey));
    expect(toHex(x25519PublicKeyOf(RFC1_PEER_ID))).toBe(toHex(publicKey));
  });

  it('maps every peer id to the public key of its X25519 secret, so Diffie-Hellman agrees', () => {
    for (let i = 0; i < 10; i++) {
      const a = generateIdentity();
      const b = generateIdentity();
      const aKeys = a.noiseKeyPair();
      const bKeys = b.noiseKeyPair();
      expect(x25519PublicKeyOf(a.id)).toEqual(x25519.getPublicKey(aKeys.privateKey));
      expect(x25519.getSharedSecret(aKeys.privateKey, x25519PublicKeyOf(b.id))).toEqual(
        x25519.getSharedSecret(bKeys.privateKey, x25519PublicKeyOf(a.id)),
      );
    }
  });

  it('returns copies of the keypair', () => {
    const identity = generateIdentity();
    const first = identity.noiseKeyPair();
    first.privateKey.fill(0);
    first.publicKey.fill(0);
    const second = identity.noiseKeyPair();
    expect(second.privateKey.some((b) => b !== 0)).toBe(true);
    expect(x25519.getPublicKey(second.privateKey)).toEqual(second.publicKey);
  });

  it('refuses keys that are not valid prime-order points', () => {
    const valid = generateIdentity().id;
    const withTorsion = ed25519.Point.fromBytes(valid.bytes)
      .add(ed25519.Point.fromBytes(hex(ED25519_TORSION_SUBGROUP[1] as string)))
      .toBytes();
    // A y coordinate with no x on the curve, and y = p (non-canonical encoding of y = 0).
    let notOnCurve: Uint8Array | undefined;
    for (let y = 2; notOnCurve === undefined; y++) {
      const candidate = new Uint8Array(32);
      candidate[0] = y;
      if (!ed25519.utils.isValidPublicKey(candidate, false)) notOnCurve = candidate;
    }
    const nonCanonical = hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    // Every torsion component, not only one: P + T for each T of the 8-torsion subgroup but the identity.
    const allTorsion = ED25519_TORSION_SUBGROUP.slice(1).map((t) =>
      ed25519.Point.fromBytes(valid.bytes).add(ed25519.Point.fromBytes(hex(t))).toBytes(),
    );
    const weak = [...ED25519_TORSION_SUBGROUP.map(hex), withTorsion, ...allTorsion, notOnCurve, nonCanonical];
    for (const key of weak) {
      expect(() => x25519PublicKeyOf(PeerId.fromBytes(key))).toThrow(InvalidPeerIdError);
      expect(() => x25519PublicKeyOf(PeerId.fromBytes(key), { x25519: scalarMult })).toThrow(InvalidPeerIdError);
    }
    expect(() => x25519PublicKeyOf('garbage')).toThrow(InvalidPeerIdError);
    expect(x25519PublicKeyOf(valid)).toHaveLength(32);
  });

  it('gives the same form with a supplied X25519 (one DH instead of a pure-JS torsion check)', () => {
    for (let i = 0; i < 20; i++) {
      const { id } = generateIdentity();
      const expected = toHex(ed25519.utils.toMontgomery(id.bytes));
      expect(toHex(x25519PublicKeyOf(id))).toBe(expected);
      expect(toHex(x25519PublicKeyOf(id, { x25519: scalarMult }))).toBe(expected);
    }
  });

  it('probes with a clamped scalar that is -1 modulo the group order and 0 modulo 8', () => {
    const scalars: Uint8Array[] = [];
    x25519PublicKeyOf(generateIdentity().id, {
      x25519: (scalar, u) => {
        scalars.push(Uint8Array.from(scalar));
        return scalarMult(scalar, u);
      },
    });
    expect(scalars).toHaveLength(1);
    let c = 0n;
    for (const byte of [...(scalars[0] as Uint8Array)].reverse()) c = (c << 8n) | BigInt(byte);
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    expect((c + 1n) % L).toBe(0n);
    expect(c % 8n).toBe(0n);
    // Already clamped (RFC 7748): bit 254 set, bit 255 and the low three bits clear.
    expect(c >> 254n).toBe(1n);
  });

  it('refuses a key when the supplied X25519 throws or answers something else', () => {
    const { id } = generateIdentity();
    expect(() => x25519PublicKeyOf(id, { x25519: () => { throw new Error('low order'); } })).toThrow(InvalidPeerIdError);
    expect(() => x25519PublicKeyOf(id, { x25519: () => new Uint8Array(32) })).toThrow(InvalidPeerIdError);
  });
});
