/**
 * `deno task descriptor`: prints (or writes) the public descriptor of one node, for the other
 * operators of the network. It holds the node's id, role, address, X25519 public key and TLS
 * certificate with its fingerprint, read from the node's keys; nothing secret.
 *
 *   deno task descriptor --id mix_1 --role mix --address mix1.example.org:50051
 *                        [--listen 0.0.0.0:50051] [--dir .] [--out mix_1.descriptor.yaml]
 *   deno task descriptor --id mix_1 --config config/config.yaml [--out FILE]
 *
 * Without a config the keys are those `deno task keygen --id` made in `<dir>/secret`; with one,
 * the role and addresses come from the config and the keys from its `keys_dir`.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/mod.ts";
import { createSealedBox, readKeyPair, readTlsIdentity } from "../src/crypto/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { describe, formatDescriptor } from "./_descriptor.ts";

const USAGE =
  `Usage: deno task descriptor --id ID --role mix|client --address HOST:PORT [--listen HOST:PORT]
                            [--dir .] [--out FILE]
       deno task descriptor --id ID --config config/config.yaml [--out FILE]`;

class UsageError extends Error {}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      id: { type: "string" },
      role: { type: "string" },
      address: { type: "string" },
      listen: { type: "string" },
      dir: { type: "string" },
      config: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const id = values.id;
  if (!id) throw new UsageError("Missing --id");
  let node: { id: string; role: "mix" | "client"; address: string; listen?: string };
  let keysDir: string;
  let backend: string | undefined;
  if (values.config !== undefined) {
    const config = await loadConfig(values.config);
    const mix = config.mixServers.find((m) => m.id === id);
    const client = config.clients.find((c) => c.id === id);
    const found = mix ?? client;
    if (!found) throw new UsageError(`--id: no node ${JSON.stringify(id)} in ${config.file}`);
    node = { id, role: mix ? "mix" : "client", address: found.address, listen: found.listen };
    keysDir = config.keysDir;
    backend = config.cryptoBackend;
  } else {
    if (values.role !== "mix" && values.role !== "client") {
      throw new UsageError(`--role: expected mix or client, got ${JSON.stringify(values.role)}`);
    }
    if (!values.address) throw new UsageError("Missing --address (host:port peers reach it at)");
    node = { id, role: values.role, address: values.address, listen: values.listen };
    keysDir = join(values.dir ?? ".", "secret");
  }
  const box = await createSealedBox(backend);
  const pair = await readKeyPair(box, keysDir, id);
  const tls = await readTlsIdentity(keysDir, id);
  const text = formatDescriptor(describe(node, pair.publicKey, tls.certificate.pem));
  if (values.out) {
    await Deno.writeTextFile(values.out, text);
    console.error(
      `descriptor: wrote ${values.out} (public); fingerprint ${tls.certificate.fingerprint}`,
    );
  } else console.log(text.trimEnd());
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`descriptor: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
