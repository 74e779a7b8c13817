export { tcp } from './tcp.js';
export type { TcpListener, TcpOptions, TcpTransport } from './tcp.js';
