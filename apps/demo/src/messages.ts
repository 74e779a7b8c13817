// What the demo's director and its node processes say to each other over the
// IPC channel of `child_process.fork`. Values are plain JSON.

/** A request from the director; the node answers with a `Reply` carrying the same `seq`. */
export type Request = { seq: number } & (
  | { op: 'pair'; peer: string; label: string }
  | { op: 'invite'; label: string }
  | { op: 'join'; code: string; label: string }
  | { op: 'serve-device'; admin: string }
  | { op: 'send'; peer: string; name: string; args: unknown }
  | { op: 'call'; peer: string; name: string; args: unknown }
  | { op: 'admin'; peer: string; method: string; params: unknown[] }
  | { op: 'connect'; peer: string; port: number }
  | { op: 'stop' }
);

/** The outcome of a request: a value, or a PeerNet error's code and message. */
export type Reply = { seq: number } & ({ ok: true; value: unknown } | { ok: false; code: string; message: string });

/** Something that happened in a node, reported as it happens. */
export type Report =
  | { event: 'up'; id: string; port: number; pid: number; paired: string[] }
  | { event: 'online'; peer: string }
  | { event: 'offline'; peer: string; reason: string | undefined }
  | { event: 'discovered'; peer: string; source: string; trusted: boolean }
  | { event: 'chat'; from: string; text: string }
  | { event: 'refused'; code: string; reason: string };
