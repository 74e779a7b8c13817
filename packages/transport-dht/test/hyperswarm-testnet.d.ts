declare module '@hyperswarm/testnet' {
  interface Testnet {
    bootstrap: Array<{ host: string; port: number }>;
    destroy(): Promise<void>;
  }
  export default function createTestnet(size?: number, options?: { host?: string }): Promise<Testnet>;
}
