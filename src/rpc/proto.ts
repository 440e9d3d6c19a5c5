/**
 * Loads `protos/mixnet.proto` once, with the one set of loader options the project uses.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

/** Path of the proto file, next to `src/`. */
export const PROTO_PATH = fileURLToPath(new URL("../../protos/mixnet.proto", import.meta.url));

/** Loader options: proto field names, int64 as numbers, bytes as Buffer (a Uint8Array). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

interface MixnetPackage {
  MixServer: grpc.ServiceClientConstructor;
  Client: grpc.ServiceClientConstructor;
}

let loaded: MixnetPackage | undefined;

/** Returns the `mixnet` package's service constructors, loading the proto on first use. */
export function mixnetPackage(): MixnetPackage {
  if (!loaded) {
    // Failures reach callers as errors with context; grpc-js's own stderr lines would repeat them.
    grpc.setLogVerbosity(grpc.logVerbosity.NONE);
    const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    loaded = grpc.loadPackageDefinition(definition).mixnet as unknown as MixnetPackage;
  }
  return loaded;
}
