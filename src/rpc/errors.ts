/**
 * Conversion between domain errors and gRPC statuses: the only place that knows both.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { type ErrorStatus, MixnetError } from "../errors.ts";
import { codeKind } from "./policy.ts";

const TO_CODE: Record<ErrorStatus, grpc.status> = {
  "invalid-argument": grpc.status.INVALID_ARGUMENT,
  "permission-denied": grpc.status.PERMISSION_DENIED,
  "unauthenticated": grpc.status.UNAUTHENTICATED,
  "not-found": grpc.status.NOT_FOUND,
  "already-exists": grpc.status.ALREADY_EXISTS,
  "failed-precondition": grpc.status.FAILED_PRECONDITION,
  "out-of-range": grpc.status.OUT_OF_RANGE,
  "resource-exhausted": grpc.status.RESOURCE_EXHAUSTED,
  "unavailable": grpc.status.UNAVAILABLE,
  "internal": grpc.status.INTERNAL,
};

const FROM_CODE = new Map<grpc.status, ErrorStatus>(
  Object.entries(TO_CODE).map(([status, code]) => [code, status as ErrorStatus]),
);

/** A gRPC call failed; `code` is the gRPC status and the message names the peer and method. */
export class RpcError extends MixnetError {
  /** The gRPC status code. */
  readonly code: grpc.status;
  /** The reason the peer gave (or the transport's). */
  readonly details: string;

  /** Creates an error for a failed call of `method` on `peer`. */
  constructor(peer: string, method: string, code: grpc.status, details: string) {
    super(`${method} on ${peer} failed: ${grpc.status[code] ?? code}: ${details}`, {
      status: FROM_CODE.get(code) ??
        (code === grpc.status.DEADLINE_EXCEEDED ? "unavailable" : "internal"),
    });
    this.code = code;
    this.details = details;
  }

  /** Whether retrying soon may succeed (see policy.ts): the peer was down, overloaded or slow. */
  get transient(): boolean {
    return codeKind(this.code) === "transient";
  }
}

/** Converts any thrown value to the status a handler returns; unknown errors are INTERNAL. */
export function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof MixnetError) {
    return { code: TO_CODE[error.status], details: error.message };
  }
  return { code: grpc.status.INTERNAL, details: `Internal error: ${String(error)}` };
}

export { grpc };
