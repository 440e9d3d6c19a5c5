/**
 * TLS for gRPC with pinned peers: a channel accepts only the certificate pinned for the node it
 * dials, and a server asks callers for a certificate, records which one each connection showed,
 * and lets a method require a given peer's. A refusal names the peer and the fingerprint seen.
 *
 * Certificates are self-signed (see crypto/certificates.ts): the pinned certificate is the
 * only trust anchor of a link, so the TLS stack's own chain check (`authorized`) proves the peer
 * holds that certificate's key, and the fingerprint comparison says which certificate it was.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type * as http2 from "node:http2";
import type { Socket } from "node:net";
import * as tls from "node:tls";
import {
  type Certificate,
  fingerprintOf,
  TLS_SERVER_NAME,
  type TlsIdentity,
} from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import { type Logger, RateLimitedLog } from "../log.ts";
import type { AuthCheck, ServerTls } from "./server.ts";

/** A peer as a node pins it: who, where, and the certificate it must present. */
export interface PinnedPeer {
  /** Its id in the config. */
  readonly id: string;
  /** Its address, for messages. */
  readonly address: string;
  /** The certificate it must present. */
  readonly certificate: Certificate;
}

/** What a caller's connection showed, as the server recorded it during the handshake. */
export interface SeenCertificate {
  /** Fingerprint of the certificate presented, if any. */
  readonly fingerprint?: string;
  /** Whether the TLS stack verified it against the certificates this server pins for callers. */
  readonly verified: boolean;
}

/**
 * Credentials of a channel to `peer`: TLS that accepts only the certificate pinned for it, and
 * presents `identity` as a client certificate when given (mix to mix).
 */
export function pinnedChannel(peer: PinnedPeer, identity?: TlsIdentity): grpc.ChannelCredentials {
  return new PinnedChannelCredentials(peer, identity);
}

/** The connector grpc-js asks a channel's credentials for, per subchannel. */
interface SecureConnector {
  connect(socket: Socket): Promise<{ socket: Socket; secure: boolean }>;
  waitForReady(): Promise<void>;
  getCallCredentials(): grpc.CallCredentials;
  destroy(): void;
}

/**
 * grpc-js's own TLS credentials check a certificate's chain before they call
 * `checkServerIdentity`, so a wrong certificate fails with the stack's words and never with
 * its fingerprint; and Deno refuses the IP address grpc-js sends as server name. This connector
 * does the handshake itself: it sends a fixed server name, lets the handshake finish, and then
 * refuses, by name and fingerprint, whatever is not the pinned certificate proven by its key.
 */
class PinnedChannelCredentials extends grpc.ChannelCredentials {
  readonly #peer: PinnedPeer;
  readonly #context: tls.SecureContext;

  constructor(peer: PinnedPeer, identity?: TlsIdentity) {
    super();
    this.#peer = peer;
    this.#context = tls.createSecureContext({
      ca: peer.certificate.pem,
      ...(identity ? { cert: identity.certificate.pem, key: identity.keyPem } : {}),
    });
  }

  override _isSecure(): boolean {
    return true;
  }

  override _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(
    _target: unknown,
    _options: unknown,
    callCredentials?: grpc.CallCredentials,
  ): SecureConnector {
    const peer = this.#peer;
    const secureContext = this.#context;
    return {
      connect(socket) {
        return new Promise((resolve, reject) => {
          const secure = tls.connect({
            socket,
            secureContext,
            servername: TLS_SERVER_NAME,
            ALPNProtocols: ["h2"],
            // Decided below, where the refusal can name the certificate seen.
            rejectUnauthorized: false,
            checkServerIdentity: () => undefined,
          }, () => {
            const refusal = refuseServer(peer, secure);
            if (refusal) {
              secure.destroy();
              reject(refusal);
            } else resolve({ socket: secure, secure: true });
          });
          secure.on("error", reject);
        });
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCredentials ?? grpc.credentials.createEmpty(),
      destroy() {},
    };
  }
}

function refuseServer(peer: PinnedPeer, socket: tls.TLSSocket): Error | undefined {
  const seen = presented(socket);
  const expected = peer.certificate.fingerprint;
  if (seen !== expected) {
    return new MixnetError(
      `${peer.id} at ${peer.address} presented ${
        seen ? `certificate ${seen}` : "no certificate"
      }, not the one pinned for it (${expected})`,
      { status: "unavailable" },
    );
  }
  if (!socket.authorized) {
    return new MixnetError(
      `${peer.id} at ${peer.address} presented its pinned certificate ${seen} without proving ` +
        `it holds the key: ${socket.authorizationError}`,
      { status: "unavailable" },
    );
  }
  return undefined;
}

/**
 * The fingerprint of the certificate a TLS server at `host:port` presents, found by a handshake
 * that accepts any (to name what was seen when a pinned connection was refused); undefined when
 * none could be had within 2 s.
 */
export function certificateSeen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host,
      port,
      servername: TLS_SERVER_NAME,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    }, () => done(presented(socket)));
    const timer = setTimeout(() => done(undefined), 2000);
    socket.on("error", () => done(undefined));
    function done(fingerprint: string | undefined) {
      clearTimeout(timer);
      socket.destroy();
      resolve(fingerprint);
    }
  });
}

/** The fingerprint of the certificate the other end of `socket` presented, if any. */
function presented(socket: tls.TLSSocket): string | undefined {
  const raw = socket.getPeerCertificate()?.raw;
  return raw && raw.length > 0 ? fingerprintOf(raw) : undefined;
}

/**
 * grpc-js's `ServerCredentials.createSsl` either demands a certificate from every caller or
 * asks none; a last mix must take polls from clients without one and batches from the previous
 * mix with one. These ask for a certificate when some callers must show one, verify it against
 * theirs, and let the call's check decide.
 */
class PinnedServerCredentials extends grpc.ServerCredentials {
  constructor(identity: TlsIdentity, callers: readonly PinnedPeer[]) {
    super(
      callers.length > 0
        ? { requestCert: true, rejectUnauthorized: false }
        : { requestCert: false },
      {
        cert: identity.certificate.pem,
        key: identity.keyPem,
        ...(callers.length > 0 ? { ca: callers.map((c) => c.certificate.pem) } : {}),
      },
    );
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** The server side of TLS: its credentials, and what each caller's connection showed. */
export class TlsServer implements ServerTls {
  /** Credentials to bind with. */
  readonly credentials: grpc.ServerCredentials;
  readonly #seen = new Map<string, SeenCertificate>();

  /** Serves as `identity`, verifying the certificates of `callers` (who may show one). */
  constructor(identity: TlsIdentity, callers: readonly PinnedPeer[] = []) {
    this.credentials = new PinnedServerCredentials(identity, callers);
  }

  /** Records, per connection, the certificate each caller showed (see {@link caller}). */
  watch(server: http2.Http2Server): void {
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      const key = peerName(socket.remoteAddress, socket.remotePort);
      this.#seen.set(key, { fingerprint: presented(socket), verified: socket.authorized });
      socket.once("close", () => this.#seen.delete(key));
    });
  }

  /** What the connection of `peer` (a call's `host:port`, as grpc-js names it) showed. */
  caller(peer: string): SeenCertificate {
    return this.#seen.get(peer) ?? { verified: false };
  }

  /**
   * A check that lets `method` through only from a connection that presented `pin`'s
   * certificate and proved it holds its key; any other is refused with `unauthenticated`,
   * counted through `onRefused` and logged (rate-limited) with the caller and the fingerprint.
   */
  requireCaller(
    method: string,
    pin: PinnedPeer,
    options: { readonly logger: Logger; readonly onRefused?: () => void },
  ): AuthCheck {
    const warnings = new RateLimitedLog(options.logger);
    return (call) => {
      if (call.method !== method) return;
      const seen = this.caller(call.peer);
      if (seen.verified && seen.fingerprint === pin.certificate.fingerprint) return;
      options.onRefused?.();
      const shown = seen.fingerprint ? `certificate ${seen.fingerprint}` : "no certificate";
      warnings.warn(`refused ${method} from a caller without ${pin.id}'s certificate`, {
        peer: call.peer,
        presented: seen.fingerprint ?? "none",
        expected: pin.certificate.fingerprint,
      });
      throw new MixnetError(
        `${method} needs the certificate of ${pin.id} (${pin.certificate.fingerprint}): the ` +
          `caller at ${call.peer} presented ${shown}`,
        { status: "unauthenticated" },
      );
    };
  }
}

/** A peer's name as grpc-js's `getPeer()` writes it. */
function peerName(address: string | undefined, port: number | undefined): string {
  return port ? `${address}:${port}` : String(address);
}
