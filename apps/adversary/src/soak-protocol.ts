/** What the soak controller asks of a node. */
export type SoakCommand =
  | { op: 'pair'; peers: string[] }
  | { op: 'connect'; peer: string; port: number }
  | { op: 'start'; peers: string[]; everyMs: number }
  | { op: 'pause' }
  | { op: 'final'; peers: string[]; sends: number }
  | { op: 'report' }
  | { op: 'stop' };

/** One received send stream (one sender instance, one of its sessions with us). */
export interface StreamState {
  first: number;
  last: number;
  count: number;
  /** Arrivals that were not the next number (a gap, a duplicate, a reordering; or a first one that was not 0). */
  bad: number;
}

/** A node instance's books. */
export interface SoakNodeReport {
  instance: string;
  calls: {
    started: number;
    resolved: number;
    /** Rejections by error code (codes of the protocol only). */
    rejected: Record<string, number>;
    /** Rejections without a known error code. */
    untyped: number;
    outstanding: number;
    oldestOutstandingMs: number;
  };
  sends: { attempted: number; resolved: number; notConnected: number; otherFailures: Record<string, number> };
  /** `${receiverInstance}|${senderInstance}:${epoch}` -> highest sequence number a later call confirmed. */
  confirmed: Record<string, number>;
  /** `${senderInstance}:${epoch}` -> what arrived. */
  received: Record<string, StreamState>;
  heapUsed: number;
  rss: number;
  resources: Record<string, number>;
  online: number;
}
