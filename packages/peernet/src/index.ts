export { PeerNet } from './node.js';
export type { ConnectOptions, ExposeOptions, Logger, PeerInfo, PeerNetEvents, PeerNetOptions } from './node.js';
export * from '@peernet/interface';
export type { Authorize, CallOptions, Handler, HandlerContext, Value } from '@peernet/connection';
export type { Identity } from '@peernet/identity';
export type { TrustEntry, TrustStore } from '@peernet/trust';
export { serve, client, caster, withContext } from '@peernet/rpc';
export type { AuthorizeMethod, Caster, Client, ClientOptions, RpcContext, Service, ServeOptions } from '@peernet/rpc';
