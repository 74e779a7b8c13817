// The part of @hyperswarm/testnet the DHT figures use (it ships no types).
declare module '@hyperswarm/testnet' {
  interface Testnet {
    bootstrap: Array<{ host: string; port: number }>;
    destroy(): Promise<void>;
  }
  export default function createTestnet(size?: number, options?: { host?: string; port?: number }): Promise<Testnet>;
}
