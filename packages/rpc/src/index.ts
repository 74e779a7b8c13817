export type { RpcExposeOptions, RpcNode } from './node.js';
export { serve, withContext } from './serve.js';
export type { AuthorizeMethod, RpcContext, Service, ServeOptions, WithContext } from './serve.js';
export { client, caster, callMethod, castMethod, RESERVED_NAMES } from './client.js';
export type { Caster, Client, ClientOptions, MethodName, RemoteParams, WireApi, WireMethod } from './client.js';
export { encodeRequest, parseRequest } from './wire.js';
export type { RpcRequest } from './wire.js';
