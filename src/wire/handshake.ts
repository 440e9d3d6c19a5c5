/**
 * How a wire connection starts, after TLS where the wire has it. The caller sends the magic;
 * the server answers with a fresh nonce; the caller proves which certificate it holds, or says
 * it shows none:
 *
 *   caller → server: magic (8)
 *   server → caller: nonce (32)
 *   caller → server: certificate length (2) ‖ certificate (DER) ‖ signature length (2) ‖
 *                    ECDSA-SHA256 signature of ("mixnet wire caller" ‖ nonce)
 *
 * The server pins certificates just as TLS would for a client certificate (Deno's TLS server
 * asks for none): a method that needs a given peer checks the fingerprint the connection
 * proved. A proof that does not hold proves nothing: the caller is served as one that showed no
 * certificate, so that a method needing one refuses it with UNAUTHENTICATED and says why (a
 * closed connection would tell it nothing, and its retries would come back at once). The caller
 * pins the server's certificate through TLS itself.
 *
 * @module
 */
import { createPrivateKey, sign, verify, X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";
import { type TlsIdentity } from "../crypto/mod.ts";
import { MixnetError } from "../errors.ts";
import { WIRE_MAGIC, type WireConn, writeAll } from "./frames.ts";

/** Bytes of the server's nonce. */
const NONCE_BYTES = 32;
/** What a caller's signature covers besides the nonce. */
const CONTEXT = new TextEncoder().encode("mixnet wire caller");
/** Longest certificate or signature accepted in a proof. */
const MAX_PROOF_PART = 8 * 1024;

/** What the server learned of its caller. */
export interface WireCaller {
  /** Fingerprint of the certificate the caller proved it holds, if it showed one. */
  readonly fingerprint?: string;
  /** Why a certificate the caller showed proves nothing, e.g. its signature does not verify. */
  readonly unproved?: string;
}

/**
 * The caller's side: sends the magic, reads the nonce, and proves `identity` (or shows none).
 *
 * @throws {MixnetError} unavailable when the server closes the connection first.
 */
export async function callerHandshake(conn: WireConn, identity?: TlsIdentity): Promise<void> {
  await writeAll(conn, WIRE_MAGIC);
  const nonce = await readExactly(conn, NONCE_BYTES);
  if (!identity) return await writeAll(conn, new Uint8Array(4));
  const der = new X509Certificate(identity.certificate.pem).raw;
  const signature = sign(
    "sha256",
    Buffer.concat([CONTEXT, nonce]),
    createPrivateKey(identity.keyPem),
  );
  const proof = new Uint8Array(4 + der.length + signature.length);
  const view = new DataView(proof.buffer);
  view.setUint16(0, der.length);
  proof.set(der, 2);
  view.setUint16(2 + der.length, signature.length);
  proof.set(signature, 4 + der.length);
  await writeAll(conn, proof);
}

/**
 * The server's side, after the magic was read: sends a nonce and checks the caller's proof. A
 * certificate that does not parse, or a signature that does not verify, leaves the caller with
 * no fingerprint and the reason in `unproved`.
 *
 * @throws {MixnetError} permission-denied for a proof part over its size limit; unavailable
 * when the caller closes the connection first.
 */
export async function serverHandshake(conn: WireConn): Promise<WireCaller> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  await writeAll(conn, nonce);
  const der = await readPart(conn);
  const signature = await readPart(conn);
  if (der.length === 0) return {};
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch {
    return { unproved: "it showed a certificate that does not parse" };
  }
  let valid = false;
  try {
    valid = verify("sha256", Buffer.concat([CONTEXT, nonce]), certificate.publicKey, signature);
  } catch {
    // A signature that is not one: as good as a wrong one.
  }
  if (!valid) {
    return {
      unproved: `it showed certificate ${certificate.fingerprint256} without proof of its key`,
    };
  }
  return { fingerprint: certificate.fingerprint256 };
}

async function readPart(conn: WireConn): Promise<Uint8Array> {
  const length = new DataView((await readExactly(conn, 2)).buffer).getUint16(0);
  if (length > MAX_PROOF_PART) {
    throw new MixnetError(`Wire caller refused: a proof part of ${length} bytes`, {
      status: "permission-denied",
    });
  }
  return await readExactly(conn, length);
}

/**
 * Reads exactly `length` bytes.
 *
 * @throws {MixnetError} unavailable when the connection ends first.
 */
export async function readExactly(conn: WireConn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  for (let read = 0; read < length;) {
    const n = await conn.read(out.subarray(read));
    if (n === null) {
      throw new MixnetError("Wire connection closed during its handshake", {
        status: "unavailable",
      });
    }
    read += n;
  }
  return out;
}
