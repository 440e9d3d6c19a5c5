/**
 * TLS identities. Every node has an ECDSA P-256 key and a self-signed certificate for it, made
 * when its other keys are (keygen, or a node's first start), and peers pin the certificate
 * itself: no authority can vouch for a node, as independent operators trust nobody to hold a
 * network CA's key.
 *
 * Files, beside the X25519 ones: `<keys_dir>/<id>.tls.key` (PKCS#8 PEM, mode 0600) and
 * `<keys_dir>/<id>.crt`, the node's own copy of its certificate, which it publishes as
 * `<config dir>/<id>.crt` where peers find it, as it publishes `<id>.key`.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { CryptoError } from "../errors.ts";
import { exists, publish, writeAtomically } from "./_files.ts";

/** Years a certificate is valid: pinned certificates are replaced by hand, not by expiry. */
const VALID_YEARS = 20;

/** The name every certificate carries, and every TLS client sends as its server name. */
export const TLS_SERVER_NAME = "mixnet";

/** A certificate as a peer pins it. */
export interface Certificate {
  /** The PEM text. */
  readonly pem: string;
  /** SHA-256 of its DER bytes, as `openssl x509 -fingerprint -sha256` writes it (AB:CD:…). */
  readonly fingerprint: string;
}

/** A node's own TLS key and certificate. */
export interface TlsIdentity {
  /** PKCS#8 PEM of the private key. */
  readonly keyPem: string;
  /** Its self-signed certificate. */
  readonly certificate: Certificate;
}

/** Path of node `id`'s TLS private key in `keysDir`. */
export function tlsKeyPath(keysDir: string, id: string): string {
  return join(keysDir, `${id}.tls.key`);
}

/** Path of node `id`'s certificate: its own copy in `keys_dir`, or the published one. */
export function certificatePath(dir: string, id: string): string {
  return join(dir, `${id}.crt`);
}

/**
 * Parses a PEM certificate and computes its fingerprint.
 *
 * @throws {CryptoError} when `pem` is not one certificate; `what` names it in the message.
 */
export function parseCertificate(pem: string, what = "certificate"): Certificate {
  try {
    return { pem, fingerprint: new X509Certificate(pem).fingerprint256 };
  } catch (cause) {
    throw new CryptoError(`Invalid ${what}: not a PEM certificate (${String(cause)})`, {
      status: "failed-precondition",
      cause,
    });
  }
}

/** The fingerprint of a certificate given as DER bytes (as a TLS peer presents it). */
export function fingerprintOf(der: Uint8Array): string {
  return new X509Certificate(der).fingerprint256;
}

/**
 * Reads the certificate node `id` published in the config folder.
 *
 * @throws {CryptoError} when the file is missing or holds no certificate.
 */
export async function readCertificate(configDir: string, id: string): Promise<Certificate> {
  const path = certificatePath(configDir, id);
  let pem: string;
  try {
    pem = await Deno.readTextFile(path);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound ? "no such file" : String(cause);
    throw new CryptoError(
      `Cannot read the certificate of ${id} from ${path}: ${why} (its operator exports it with ` +
        `"deno task descriptor"; a node started once publishes it there)`,
      { status: "failed-precondition", cause },
    );
  }
  return parseCertificate(pem, `certificate file ${path}`);
}

/**
 * Makes a fresh ECDSA P-256 key and a self-signed certificate for node `id` (CN=id, O=mixnet,
 * serverAuth and clientAuth, not a CA).
 */
export async function generateTlsIdentity(id: string): Promise<TlsIdentity> {
  // Loaded on demand: only keygen and a node's first start make certificates.
  const x509 = await import("./_x509.ts");
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f; // a positive serial number
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join(""),
    name: [{ CN: [id] }, { O: ["mixnet"] }],
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + VALID_YEARS * 365.25 * 86400_000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: TLS_SERVER_NAME }]),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    keyPem: pem("PRIVATE KEY", pkcs8),
    certificate: parseCertificate(certificate.toString("pem") + "\n"),
  };
}

/** Options of {@link ensureTlsIdentity}. */
export interface EnsureTlsOptions {
  /** Replace an existing key and certificate with fresh ones. */
  readonly force?: boolean;
}

/**
 * Loads node `id`'s TLS key and certificate from `keysDir`, making both when there is no key
 * (or with `force`), and publishes the certificate in `configDir` unless it is there already;
 * `replaced` is the fingerprint of another certificate it found published there.
 *
 * @throws {CryptoError} when the key is readable by group or others, or the certificate is
 * missing or belongs to another key (the message says how to fix it).
 */
export async function ensureTlsIdentity(
  paths: { readonly configDir: string; readonly keysDir: string },
  id: string,
  options: EnsureTlsOptions = {},
): Promise<{ identity: TlsIdentity; created: boolean; replaced?: string }> {
  const keyPath = tlsKeyPath(paths.keysDir, id);
  const ownPath = certificatePath(paths.keysDir, id);
  let identity: TlsIdentity | undefined;
  if (!options.force && await exists(keyPath)) identity = await readTlsIdentity(paths.keysDir, id);
  const created = identity === undefined;
  if (!identity) {
    identity = await generateTlsIdentity(id);
    await Deno.mkdir(paths.keysDir, { recursive: true, mode: 0o700 });
    await writeAtomically(keyPath, identity.keyPem, 0o600);
    await writeAtomically(ownPath, identity.certificate.pem, 0o644);
  }
  await Deno.mkdir(paths.configDir, { recursive: true });
  const publishedPath = certificatePath(paths.configDir, id);
  const published = await Deno.readTextFile(publishedPath).catch(() => undefined);
  await publish(publishedPath, identity.certificate.pem);
  // Another certificate published under this id is what peers pinned: say which one it was.
  const replaced = published !== undefined && published !== identity.certificate.pem
    ? parseCertificate(published, `certificate file ${publishedPath}`).fingerprint
    : undefined;
  return { identity, created, ...(replaced ? { replaced } : {}) };
}

/**
 * Reads node `id`'s TLS key and its own certificate from `keysDir`.
 *
 * @throws {CryptoError} when either is missing or unusable, or they do not belong together.
 */
export async function readTlsIdentity(keysDir: string, id: string): Promise<TlsIdentity> {
  const keyPath = tlsKeyPath(keysDir, id);
  const ownPath = certificatePath(keysDir, id);
  const mode = (await Deno.stat(keyPath)).mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new CryptoError(
      `TLS key file ${keyPath} is readable by group or others (mode ${
        (mode & 0o777).toString(8)
      }): run chmod 600 ${keyPath}`,
      { status: "failed-precondition" },
    );
  }
  const keyPem = await Deno.readTextFile(keyPath);
  const ownPem = await Deno.readTextFile(ownPath).catch((cause) => {
    throw new CryptoError(
      `${id} has a TLS key but no certificate at ${ownPath}: restore it (it is in the ` +
        `descriptor you exported), or run "deno task keygen --force" and export a new descriptor`,
      { status: "failed-precondition", cause },
    );
  });
  const certificate = parseCertificate(ownPem, `certificate file ${ownPath}`);
  let matches: boolean;
  try {
    matches = new X509Certificate(ownPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch (cause) {
    throw new CryptoError(`TLS key file ${keyPath} is malformed: expected a PKCS#8 PEM key`, {
      status: "failed-precondition",
      cause,
    });
  }
  if (!matches) {
    throw new CryptoError(
      `Certificate ${ownPath} (${certificate.fingerprint}) is not for the TLS key ${keyPath}: ` +
        `restore the pair, or run "deno task keygen --force" and export a new descriptor`,
      { status: "failed-precondition" },
    );
  }
  return { keyPem, certificate };
}

function pem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const lines = btoa(binary).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}
