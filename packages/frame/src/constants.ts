// The sizes of the wire format, in one place: every package that frames,
// seals or checks bytes imports them from here.

/** Largest Noise message, and so the largest u16 frame (Noise spec, section 3). */
export const MAX_NOISE_MESSAGE_BYTES = 65535;

/** Bytes of the ChaCha20-Poly1305 tag at the end of every sealed Noise message. */
export const AEAD_TAG_BYTES = 16;

/** Most plaintext one Noise transport message can carry: 65535 minus the tag, 65519. */
export const MAX_PLAINTEXT_PER_MESSAGE = MAX_NOISE_MESSAGE_BYTES - AEAD_TAG_BYTES;

/** The big-endian u16 length before every Noise message on the socket. */
export const NOISE_HEADER_BYTES = 2;

/** The big-endian u32 length before every envelope on the secure byte stream. */
export const ENVELOPE_HEADER_BYTES = 4;

/** Largest length a u32 envelope header can declare. */
export const MAX_ENVELOPE_LENGTH = 0xffff_ffff;

/** Cap on handshake frames before the peer is authenticated (1 KiB, docs/protocol.md section 3.4). */
export const HANDSHAKE_FRAME_MAX_BYTES = 1024;

/** Default cap on one envelope (16 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
