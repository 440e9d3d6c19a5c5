/**
 * The `MixServer` methods the wire protocol carries, numbered, with the protobuf encodings of
 * `protos/mixnet.proto`: it frames the same messages gRPC does, only without HTTP/2.
 *
 * @module
 */
import type { MethodDefinition } from "@grpc/grpc-js";
import { mixnetPackage } from "../rpc/proto.ts";

/** The methods, in the order of their numbers on the wire (1 up). */
const WIRE_METHODS = [
  "ForwardMessage",
  "PollMessages",
  "Register",
  "WaitForStart",
  "ForwardBatch",
] as const;

/** A method the wire protocol carries. */
export type WireMethod = typeof WIRE_METHODS[number];

/** How one method's messages are encoded, and whether its requests are a stream. */
export interface WireMethodCodec {
  readonly name: WireMethod;
  readonly number: number;
  readonly requestStream: boolean;
  encodeRequest(request: unknown): Uint8Array;
  decodeRequest(bytes: Uint8Array): unknown;
  encodeResponse(response: unknown): Uint8Array;
  decodeResponse(bytes: Uint8Array): unknown;
}

let codecs: Map<WireMethod | number, WireMethodCodec> | undefined;

/** The codec of a method, by name or wire number; undefined for an unknown number. */
export function wireMethod(method: WireMethod | number): WireMethodCodec | undefined {
  if (!codecs) {
    codecs = new Map();
    const service = mixnetPackage().MixServer.service;
    WIRE_METHODS.forEach((name, i) => {
      const definition = service[name] as MethodDefinition<unknown, unknown>;
      const codec: WireMethodCodec = {
        name,
        number: i + 1,
        requestStream: definition.requestStream,
        encodeRequest: (r) => definition.requestSerialize(r),
        decodeRequest: (b) => definition.requestDeserialize(b as never),
        encodeResponse: (r) => definition.responseSerialize(r),
        decodeResponse: (b) => definition.responseDeserialize(b as never),
      };
      codecs!.set(name, codec).set(i + 1, codec);
    });
  }
  return codecs.get(method);
}
