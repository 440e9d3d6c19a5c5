/**
 * The client: registration, round clock, outgoing queue, dummies to the sink, loop cover, mailbox
 * fetches, decryption, and its own gRPC service for users.
 *
 * @module
 */
export { type ClientNode, type ClientOptions, startClient } from "./node.ts";
export type { ClientRecord } from "./context.ts";
export { ApiCookie, COOKIE_HEADER, cookieHeaders, cookiePath, readCookie } from "./cookie.ts";
export { CascadeLink, type CascadeLinkOptions, type FetchRequest, type LinkedMix } from "./link.ts";
export { ClientStore } from "./store.ts";
