/**
 * Keys, the sealed box (byte-compatible backends behind {@link SealedBox}), key files and
 * peer MACs. The only module that touches key material.
 *
 * @module
 */
import { CryptoError } from "../errors.ts";
export { CryptoError };
import type { SealedBox } from "./box.ts";
import { createLibsodiumBox } from "./libsodium.ts";
import { createTweetnaclBox } from "./tweetnacl.ts";
import { createNativeBox } from "./native.ts";

export { KEY_BYTES, type KeyPair, NONCE_BYTES, SEAL_OVERHEAD, type SealedBox } from "./box.ts";
export {
  decodePublicKey,
  ensureKeyPair,
  type EnsureKeyPairOptions,
  publicKeyPath,
  readKeyPair,
  readPublicKey,
  secretKeyPath,
  writePublicKey,
  writeSecretKey,
} from "./key_files.ts";
export { MAC_BYTES, type MacField, PeerMac } from "./mac.ts";
export {
  type Certificate,
  certificatePath,
  ensureTlsIdentity,
  type EnsureTlsOptions,
  fingerprintOf,
  generateTlsIdentity,
  parseCertificate,
  readCertificate,
  readTlsIdentity,
  TLS_SERVER_NAME,
  type TlsIdentity,
  tlsKeyPath,
} from "./certificates.ts";
export { KeyDirectory } from "./key_directory.ts";
export { batchDigest, batchProof, forwardProof, pollProof, registerProof } from "./proofs.ts";
export { decodeBase64, encodeBase64 } from "./_base64.ts";

/**
 * Names of the available sealed-box backends: `native` (the default; libsodium as a Node-API
 * addon, needs `--allow-ffi`), `libsodium` (WebAssembly, the portable fallback) and `tweetnacl`
 * (pure JavaScript, the reference).
 */
export const BACKENDS = {
  native: createNativeBox,
  libsodium: createLibsodiumBox,
  tweetnacl: createTweetnaclBox,
} as const;

/**
 * Creates the sealed box named in config `crypto_backend`.
 *
 * @throws {CryptoError} for an unknown name (at once), and (rejected) when the native backend's
 * addon cannot load, saying how to fix it.
 */
export function createSealedBox(name: string = "native"): Promise<SealedBox> {
  const create = BACKENDS[name as keyof typeof BACKENDS];
  if (!create) {
    throw new CryptoError(
      `Unknown crypto backend ${JSON.stringify(name)}: expected one of ${
        Object.keys(BACKENDS).join(", ")
      }`,
      { status: "invalid-argument" },
    );
  }
  return create();
}
