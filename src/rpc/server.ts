/**
 * Serving the mixnet services: binding, size limits, and handlers that turn domain errors into
 * gRPC statuses.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { MixnetError } from "../errors.ts";
import type { ClientHandlers, MixServerHandlers } from "./messages.ts";
import { mixnetPackage } from "./proto.ts";
import { toServiceError } from "./errors.ts";

/** A running gRPC server. */
export interface RpcServer {
  /** The port it is bound to (useful when the address asked for port 0). */
  readonly port: number;
  /** Stops accepting calls and waits up to `graceMs` for calls in flight, then forces. */
  close(graceMs?: number): Promise<void>;
}

/** What {@link startServer} serves. */
export interface ServeOptions {
  /** Handlers of the `MixServer` service. */
  readonly mix?: MixServerHandlers;
  /** Handlers of the `Client` service. */
  readonly client?: ClientHandlers;
  /** Largest message accepted or sent, in bytes. */
  readonly maxMessageBytes: number;
  /** Called with every error a handler throws that is not a deliberate domain error. */
  readonly onInternalError?: (method: string, error: unknown) => void;
}

/**
 * Binds `address` (`host:port`) and serves the given services.
 *
 * @throws {MixnetError} with status unavailable when the address cannot be bound.
 */
export async function startServer(address: string, options: ServeOptions): Promise<RpcServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": options.maxMessageBytes,
  });
  const pkg = mixnetPackage();
  const services: [grpc.ServiceClientConstructor, object | undefined][] = [
    [pkg.MixServer, options.mix],
    [pkg.Client, options.client],
  ];
  for (const [{ service }, handlers] of services) {
    if (handlers) server.addService(service, wrap(service, handlers, options.onInternalError));
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) {
        reject(
          new MixnetError(
            `Cannot listen on ${address}: ${
              /address.*in use|EADDRINUSE|No address added/i.test(error.message)
                ? "address already in use (is another node running?)"
                : error.message
            }`,
            { status: "unavailable", cause: error },
          ),
        );
      } else resolve(port);
    });
  });
  return {
    port,
    close(graceMs = 2000) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/**
 * Serves promise-returning handlers: a unary method's handler gets the request, a
 * client-streaming one's the requests as an async iterable (read as the handler goes).
 */
function wrap(
  service: grpc.ServiceDefinition,
  handlers: object,
  onInternalError: ServeOptions["onInternalError"],
): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(handlers)) {
    const handler = (handlers as Record<string, (request: unknown) => Promise<unknown>>)[name]
      .bind(handlers);
    const streaming = service[name].requestStream;
    implementation[name] = (
      call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      let result: Promise<unknown>;
      try {
        result = handler(
          streaming ? call : (call as grpc.ServerUnaryCall<unknown, unknown>).request,
        );
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (response) => callback(null, response),
        (error) => {
          if (!(error instanceof MixnetError)) onInternalError?.(name, error);
          callback(toServiceError(error));
        },
      );
    };
  }
  return implementation;
}
