/**
 * Node descriptors: what an operator publishes about its node (id, role, address, a mix's wire
 * port, X25519 public key, TLS certificate and its fingerprint), never a secret; and the network folder assembled
 * from every operator's descriptor: `config.yaml` with `<id>.key` and `<id>.crt` beside it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { type Config, parseConfig } from "../src/config/mod.ts";
import { decodePublicKey, encodeBase64, parseCertificate } from "../src/crypto/mod.ts";
import { ConfigError, errorMessage } from "../src/errors.ts";

/** One node as its operator describes it. */
export interface Descriptor {
  readonly id: string;
  readonly role: "mix" | "client";
  /** `host:port` peers reach it at. */
  readonly address: string;
  /** `host:port` it binds, when not its address. */
  readonly listen?: string;
  /** A mix's wire protocol port, on the hosts of its address and listen address, if it has one. */
  readonly wirePort?: number;
  /** Base64 of its X25519 public key, as in `<id>.key`. */
  readonly publicKey: string;
  /** Its TLS certificate, PEM. */
  readonly certificate: string;
  /** SHA-256 fingerprint of the certificate (AB:CD:…), for operators to compare by voice. */
  readonly fingerprint: string;
}

const schema = z.strictObject({
  id: z.string().regex(
    /^[A-Za-z0-9_.-]{1,64}$/,
    "expected an id of 1 to 64 letters, digits, '_', '.' or '-'",
  ),
  role: z.enum(["mix", "client"]),
  address: z.string(),
  listen: z.string().optional(),
  wire_port: z.number().int().min(1).max(65535).optional(),
  public_key: z.string(),
  tls_fingerprint: z.string(),
  tls_certificate: z.string(),
});

/** The YAML text of a descriptor, with a header saying it is public. */
export function formatDescriptor(d: Descriptor): string {
  return "# mixnet node descriptor: public, send it to the network's other operators.\n" +
    `# Read the fingerprint to them by another channel, so they know it is yours.\n` +
    stringify({
      id: d.id,
      role: d.role,
      address: d.address,
      ...(d.listen ? { listen: d.listen } : {}),
      ...(d.wirePort !== undefined ? { wire_port: d.wirePort } : {}),
      public_key: d.publicKey,
      tls_fingerprint: d.fingerprint,
      tls_certificate: d.certificate,
    }, { lineWidth: 0 });
}

/**
 * Parses and checks a descriptor: its fields, its public key, its certificate, that the
 * fingerprint given is the certificate's, and that only a mix has a wire port.
 *
 * @throws {ConfigError} naming `file` and the field.
 */
export function parseDescriptor(text: string, file: string): Descriptor {
  let data: unknown;
  try {
    data = parse(text);
  } catch (cause) {
    throw new ConfigError(`${file}: not valid YAML: ${errorMessage(cause)}`, { cause });
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${file}: ${i.path.join(".") || "(document)"}: ${i.message}`)
        .join("\n"),
    );
  }
  const raw = result.data;
  if (raw.wire_port !== undefined && raw.role !== "mix") {
    throw new ConfigError(
      `${file}: wire_port: a ${raw.role} serves no wire protocol; only a mix has a wire port`,
    );
  }
  try {
    decodePublicKey(new TextEncoder().encode(raw.public_key), "public_key");
  } catch (cause) {
    throw new ConfigError(`${file}: public_key: ${errorMessage(cause)}`, { cause });
  }
  let fingerprint: string;
  try {
    fingerprint = parseCertificate(raw.tls_certificate, "tls_certificate").fingerprint;
  } catch (cause) {
    throw new ConfigError(`${file}: tls_certificate: ${errorMessage(cause)}`, { cause });
  }
  if (fingerprint !== raw.tls_fingerprint.trim().toUpperCase()) {
    throw new ConfigError(
      `${file}: tls_fingerprint: ${raw.tls_fingerprint} is not the fingerprint of ` +
        `tls_certificate (${fingerprint}): the file was altered or mixed up; ask its operator again`,
    );
  }
  return {
    id: raw.id,
    role: raw.role,
    address: raw.address,
    listen: raw.listen,
    ...(raw.wire_port !== undefined ? { wirePort: raw.wire_port } : {}),
    publicKey: raw.public_key.trim(),
    certificate: raw.tls_certificate,
    fingerprint,
  };
}

/** Where a node is, as its descriptor tells it. */
export interface NodePlace {
  readonly id: string;
  readonly role: "mix" | "client";
  readonly address: string;
  readonly listen?: string;
  /** A mix's wire port; none for a client. */
  readonly wirePort?: number;
}

/** A descriptor of a node from its public files and the place the config gives it. */
export function describe(
  node: NodePlace,
  publicKey: Uint8Array,
  certificatePem: string,
): Descriptor {
  const { fingerprint } = parseCertificate(certificatePem);
  return {
    id: node.id,
    role: node.role,
    address: node.address,
    listen: node.listen !== undefined && node.listen !== node.address ? node.listen : undefined,
    ...(node.wirePort !== undefined ? { wirePort: node.wirePort } : {}),
    publicKey: encodeBase64(publicKey),
    certificate: certificatePem,
    fingerprint,
  };
}

/** What {@link assembleNetwork} wrote. */
export interface Assembled {
  /** The config, validated as every node will read it. */
  readonly config: Config;
  /**
   * SHA-256 over every file written: operators who assembled the same descriptors compare it
   * to know they run the same network.
   */
  readonly digest: string;
}

/**
 * Writes `config.yaml` (the `settings`, then the mixes in the order given and the clients) and
 * every node's `<id>.key` and `<id>.crt` into `outDir`.
 *
 * @throws {ConfigError} when the settings name nodes, or the result is not a valid config
 * (duplicate ids or addresses, no mix, and the like), naming the field.
 */
export async function assembleNetwork(
  descriptors: readonly Descriptor[],
  settings: Record<string, unknown>,
  outDir: string,
): Promise<Assembled> {
  for (const key of ["mix_servers", "clients"]) {
    if (key in settings) {
      throw new ConfigError(`settings: ${key}: nodes come from descriptors, not from the settings`);
    }
  }
  const entry = (d: Descriptor) => ({
    id: d.id,
    address: d.address,
    ...(d.listen ? { listen: d.listen } : {}),
    ...(d.wirePort !== undefined ? { wire_port: d.wirePort } : {}),
  });
  const clients = descriptors.filter((d) => d.role === "client");
  const document = {
    messages_per_round: clients.length,
    round_duration: 1,
    dummy_payload: "dummy",
    ...settings,
    mix_servers: descriptors.filter((d) => d.role === "mix").map(entry),
    clients: clients.map(entry),
  };
  const text = "# Assembled by `deno task assemble` from the nodes' descriptors.\n" +
    stringify(document);
  const configPath = join(outDir, "config.yaml");
  const config = parseConfig(text, configPath);
  const files = new Map<string, string>([["config.yaml", text]]);
  for (const d of descriptors) {
    files.set(`${d.id}.key`, d.publicKey + "\n");
    files.set(`${d.id}.crt`, d.certificate.endsWith("\n") ? d.certificate : d.certificate + "\n");
  }
  await Deno.mkdir(outDir, { recursive: true });
  const hash = createHash("sha256");
  for (const name of [...files.keys()].sort()) {
    await Deno.writeTextFile(join(outDir, name), files.get(name)!);
    hash.update(`${name}\n${files.get(name)!.length}\n${files.get(name)!}`);
  }
  return { config, digest: hash.digest("hex").match(/.{8}/g)!.join(" ") };
}
