/**
 * Serving the mixnet services: binding, size limits, a per-service check before every call, and
 * handlers that turn domain errors into gRPC statuses.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type * as http2 from "node:http2";
import { MixnetError } from "../errors.ts";
import type { ClientHandlers, MixServerHandlers } from "./messages.ts";
import { mixnetPackage } from "./proto.ts";
import { toServiceError } from "./errors.ts";
import { listenFailure } from "./listen.ts";

/** A running gRPC server. */
export interface RpcServer {
  /** The port it is bound to (useful when the address asked for port 0). */
  readonly port: number;
  /** Stops accepting calls and waits up to `graceMs` for calls in flight, then forces. */
  close(graceMs?: number): Promise<void>;
}

/** What an {@link AuthCheck} sees of a call. */
export interface CallInfo {
  /** `Service.Method`, e.g. `Client.PollMessages`. */
  readonly method: string;
  /** The caller's address as the transport reports it, e.g. `127.0.0.1:53012`. */
  readonly peer: string;
  /** The first text value of request header `name` (lower case), if the call carries one. */
  header(name: string): string | undefined;
}

/**
 * Decides whether a call may reach its handler: returning lets it through, throwing a
 * {@link MixnetError} refuses it with that error's status (e.g. `unauthenticated`).
 */
export type AuthCheck = (call: CallInfo) => void;

/** A server's TLS: the credentials it binds with, and a hook on each HTTP/2 server it binds. */
export interface ServerTls {
  /** Credentials to bind with. */
  readonly credentials: grpc.ServerCredentials;
  /** Called with every HTTP/2 server once bound, e.g. to watch its TLS connections. */
  watch?(server: http2.Http2Server): void;
}

/** What {@link startServer} serves. */
export interface ServeOptions {
  /** Handlers of the `MixServer` service. */
  readonly mix?: MixServerHandlers;
  /** Handlers of the `Client` service. */
  readonly client?: ClientHandlers;
  /** A check per service, run before each of its calls reaches the handler; none by default. */
  readonly auth?: { readonly mix?: AuthCheck; readonly client?: AuthCheck };
  /** Largest message accepted or sent, in bytes. */
  readonly maxMessageBytes: number;
  /** TLS to serve with; plain gRPC when absent. */
  readonly tls?: ServerTls;
  /** Called with every error a handler throws that is not a deliberate domain error. */
  readonly onInternalError?: (method: string, error: unknown) => void;
  /**
   * HTTP/2 receive window, per stream and per connection, in bytes; default
   * {@link RECEIVE_WINDOW_BYTES}. 65,535 is HTTP/2's (and grpc-js's) own default.
   */
  readonly receiveWindowBytes?: number;
}

/**
 * The HTTP/2 flow-control window a server advertises, per stream and per connection: large
 * enough that a round's batch (chunks of 1 MiB, a round of several MB) flows without waiting
 * on WINDOW_UPDATE round trips to a busy receiver. Memory is not reserved by it; it only bounds
 * what a sender may have in flight.
 */
export const RECEIVE_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * Binds `address` (`host:port`) and serves the given services.
 *
 * @throws {MixnetError} naming the address and the real cause when it cannot be bound: status
 * unavailable when it is in use, failed-precondition when this process may not listen there,
 * the host is not this one's or does not resolve.
 */
export async function startServer(address: string, options: ServeOptions): Promise<RpcServer> {
  const failure = listenFailure(address);
  if (failure) {
    throw new MixnetError(`Cannot listen on ${address}: ${failure.reason}`, {
      status: failure.kind === "in-use" ? "unavailable" : "failed-precondition",
    });
  }
  const window = options.receiveWindowBytes ?? RECEIVE_WINDOW_BYTES;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": options.maxMessageBytes,
    // Only clients read it in grpc-js 1.14; raiseReceiveWindow does it for the server.
    "grpc-node.flow_control_window": window,
  });
  const http2Servers = http2ServersOf(server);
  const pkg = mixnetPackage();
  const services: [string, grpc.ServiceClientConstructor, object | undefined, AuthCheck?][] = [
    ["MixServer", pkg.MixServer, options.mix, options.auth?.mix],
    ["Client", pkg.Client, options.client, options.auth?.client],
  ];
  for (const [name, { service }, handlers, check] of services) {
    if (handlers) {
      server.addService(service, wrap(name, service, handlers, check, options.onInternalError));
    }
  }
  const port = await new Promise<number>((resolve, reject) => {
    const credentials = options.tls?.credentials ?? grpc.ServerCredentials.createInsecure();
    server.bindAsync(address, credentials, (error, port) => {
      if (error) {
        reject(
          new MixnetError(
            `Cannot listen on ${address}: ${
              /EADDRINUSE/.test(error.message)
                ? "address already in use (is another node running?)"
                : error.message
            }`,
            { status: "unavailable", cause: error },
          ),
        );
      } else resolve(port);
    });
  });
  raiseReceiveWindow(http2Servers, window);
  for (const http2Server of http2Servers.keys()) options.tls?.watch?.(http2Server);
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
 * The HTTP/2 servers a grpc-js server creates as it binds. grpc-js 1.14 has no server option for
 * the receive window (grpc/grpc-node#3058 proposes one, doing what raiseReceiveWindow does), so
 * this reaches for them.
 *
 * @throws {MixnetError} when the pinned grpc-js no longer keeps them there.
 */
function http2ServersOf(server: grpc.Server): Map<http2.Http2Server, unknown> {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    throw new MixnetError(
      "Cannot set the HTTP/2 receive window: this grpc-js keeps no http2Servers map (check the " +
        "pinned version, or use its own server option)",
    );
  }
  return servers;
}

/**
 * Makes bound HTTP/2 servers advertise a receive window of `bytes` per stream
 * (SETTINGS_INITIAL_WINDOW_SIZE) and per connection (a WINDOW_UPDATE as each session opens).
 */
function raiseReceiveWindow(servers: Map<http2.Http2Server, unknown>, bytes: number): void {
  for (const http2Server of servers.keys()) {
    http2Server.updateSettings({ initialWindowSize: bytes });
    http2Server.on("session", (session: http2.ServerHttp2Session) => {
      session.setLocalWindowSize(bytes);
    });
  }
}

/**
 * Serves promise-returning handlers: a unary method's handler gets the request, a
 * client-streaming one's the requests as an async iterable (read as the handler goes). The
 * service's check, if any, runs first; a refused call never reaches its handler.
 */
function wrap(
  serviceName: string,
  service: grpc.ServiceDefinition,
  handlers: object,
  check: AuthCheck | undefined,
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
        check?.(callInfo(`${serviceName}.${name}`, call));
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

function callInfo(
  method: string,
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown>,
): CallInfo {
  return {
    method,
    peer: call.getPeer(),
    header(name) {
      const value = call.metadata.get(name)[0];
      return typeof value === "string" ? value : undefined;
    },
  };
}
