export { PeerNet } from './node.js';
export type {
  ConnectOptions, ExposeOptions, ExposeStreamOptions, Invite, InviteOptions, JoinOptions, JoinResult, Logger, PairedPeer, PeerInfo,
  PeerNetEvents, PeerNetOptions,
} from './node.js';
export * from '@peernet/interface';
export type { Authorize, CallOptions, Handler, HandlerContext, Value } from '@peernet/interface';
export type { Identity } from '@peernet/identity';
export type { TrustEntry, TrustStore } from '@peernet/trust';
export { serve, client, caster, withContext } from '@peernet/rpc';
export type { AuthorizeMethod, Caster, Client, ClientOptions, RpcContext, Service, ServeOptions } from '@peernet/rpc';
export { pollingNetworkMonitor } from '@peernet/registry';
export type { PollingNetworkMonitorOptions } from '@peernet/registry';
export type { ReplacementReason } from './sessions.js';
export type { RefusedPeer } from './refusals.js';
export type { WaitForPeerOptions } from './waiting.js';
