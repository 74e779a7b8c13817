// The parts of hyperdht and blind-relay this package uses (they ship no types).

declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events';

  export interface KeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }

  /** A NoiseSecretStream (streamx Duplex): byte stream encrypted end to end by HyperDHT's own Noise IK. */
  export interface SecretStream extends EventEmitter {
    readonly remotePublicKey: Buffer;
    readonly publicKey: Buffer;
    readonly destroyed: boolean;
    readonly rawStream: { readonly remoteHost?: string; readonly remotePort?: number } | null;
    write(chunk: Uint8Array): boolean;
    end(): void;
    destroy(error?: Error): void;
    pause(): void;
    resume(): void;
    setKeepAlive(ms: number): void;
  }

  export interface ServerOptions {
    firewall?: (remotePublicKey: Buffer, payload: unknown, address: { host: string; port: number }) => boolean;
    shareLocalAddress?: boolean;
    relayThrough?: Buffer | null;
  }

  export interface Server extends EventEmitter {
    readonly publicKey: Buffer;
    listen(keyPair: KeyPair): Promise<void>;
    close(): Promise<void>;
    address(): { host: string | null; port: number; publicKey: Buffer } | null;
  }

  export interface ConnectOptions {
    keyPair?: KeyPair;
    relayThrough?: Buffer | null;
    localConnection?: boolean;
  }

  export interface DhtOptions {
    bootstrap?: string[];
    keyPair?: KeyPair;
    port?: number;
    host?: string;
    ephemeral?: boolean;
    firewalled?: boolean;
    connectionKeepAlive?: number | false;
  }

  export default class HyperDHT extends EventEmitter {
    constructor(options?: DhtOptions);
    static keyPair(seed?: Buffer): KeyPair;
    static bootstrapper(port: number, host: string, options?: DhtOptions): HyperDHT;
    readonly destroyed: boolean;
    readonly firewalled: boolean;
    ready(): Promise<void>;
    fullyBootstrapped(): Promise<void>;
    address(): { host: string; port: number };
    remoteAddress(): { host: string; port: number } | null;
    createServer(options: ServerOptions, onConnection: (socket: SecretStream) => void): Server;
    connect(publicKey: Buffer, options?: ConnectOptions): SecretStream;
    createRawStream(options?: Record<string, unknown>): unknown;
    announce(target: Buffer, keyPair: KeyPair, relayAddresses?: unknown[]): { finished(): Promise<void>; destroy(): void };
    unannounce(target: Buffer, keyPair: KeyPair): Promise<void>;
    lookup(target: Buffer): AsyncIterable<{ peers: Array<{ publicKey: Buffer }> }> & { destroy(): void };
    destroy(options?: { force?: boolean }): Promise<void>;
  }
}

declare module 'blind-relay' {
  import type { EventEmitter } from 'node:events';

  export class Server {
    constructor(options: { createStream(options: Record<string, unknown>): unknown });
    accept(stream: unknown, options: { id: Buffer }): EventEmitter;
    close(): Promise<void>;
    readonly stats: {
      sessions: { accepted: number; active: number };
      pairings: { matched: number; active: number };
      streams: { opened: number; active: number };
    };
  }
}
