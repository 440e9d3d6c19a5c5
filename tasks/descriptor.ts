/**
 * `deno task descriptor`: prints (or writes) the public descriptor of one node, for the other
 * operators of the network. It holds the node's id, role, address, a mix's wire port, X25519
 * public key and TLS certificate with its fingerprint, read from the node's keys; nothing secret.
 *
 *   deno task descriptor --id mix_1 --role mix --address mix1.example.org:50051
 *                        [--listen 0.0.0.0:50051] [--wire-port 51051] [--dir .]
 *                        [--out mix_1.descriptor.yaml]
 *   deno task descriptor --id mix_1 --config config/config.yaml [--out FILE]
 *
 * Without a config the keys are those `deno task keygen --id` made in `<dir>/secret`; with one,
 * the role, addresses and wire port come from the config and the keys from its `keys_dir`.
 *
 * @module
 */
import { join } from "node:path";
import { loadConfig, splitAddress } from "../src/config/mod.ts";
import { createSealedBox, readKeyPair, readTlsIdentity } from "../src/crypto/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { describe, formatDescriptor, type NodePlace } from "./_descriptor.ts";

const USAGE =
  `Usage: deno task descriptor --id ID --role mix|client --address HOST:PORT [--listen HOST:PORT]
                            [--wire-port PORT] [--dir .] [--out FILE]
       deno task descriptor --id ID --config config/config.yaml [--out FILE]`;

async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    id: flag.text(),
    role: flag.choice(["mix", "client"]),
    address: flag.text(),
    listen: flag.text(),
    "wire-port": flag.int({ min: 1, max: 65535 }),
    dir: flag.text(),
    config: flag.text(),
    out: flag.text(),
    help: flag.switch("h"),
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const id = values.id;
  if (!id) throw new UsageError("Missing --id");
  let node: NodePlace;
  let keysDir: string;
  let backend: string | undefined;
  if (values.config !== undefined) {
    const config = await loadConfig(values.config);
    const mix = config.mixServers.find((m) => m.id === id);
    const client = config.clients.find((c) => c.id === id);
    const found = mix ?? client;
    if (!found) throw new UsageError(`--id: no node ${JSON.stringify(id)} in ${config.file}`);
    node = {
      id,
      role: mix ? "mix" : "client",
      address: found.address,
      listen: found.listen,
      wirePort: mix?.wire ? splitAddress(mix.wire.address).port : undefined,
    };
    keysDir = config.keysDir;
    backend = config.cryptoBackend;
  } else {
    if (!values.role) throw new UsageError("Missing --role (mix or client)");
    if (values["wire-port"] !== undefined && values.role !== "mix") {
      throw new UsageError("--wire-port: only a mix serves the wire protocol");
    }
    if (!values.address) throw new UsageError("Missing --address (host:port peers reach it at)");
    node = {
      id,
      role: values.role,
      address: values.address,
      listen: values.listen,
      wirePort: values["wire-port"],
    };
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
