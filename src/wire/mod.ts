/**
 * The wire protocol: the `MixServer` calls, encoded as gRPC encodes them, framed straight over
 * a TCP or TLS connection instead of HTTP/2. Nodes of this project speak it to each other where
 * a mix has a `wire_port`; gRPC stays for the original design's clients and for mixes without
 * one. Under Deno a megabyte costs it about a tenth of what grpc-js on `node:http2` costs
 * (docs/BENCHMARKS.md).
 *
 * @module
 */
export { WireChannel, type WireChannelOptions, type WireDialer } from "./channel.ts";
export { type WireCaller } from "./handshake.ts";
export { startWireServer, type WireServer, type WireServerOptions } from "./listener.ts";
export { type WireCallContext, type WireCheck } from "./serve.ts";
export { WireStub, type WireStubOptions } from "./stub.ts";
