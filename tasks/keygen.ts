/**
 * `deno task keygen`: keys for the nodes of a network.
 *
 *   deno task keygen [--config config/config.yaml] [--force]
 *   deno task keygen --id mix_1 [--dir .] [--force]
 *
 * With a config: an X25519 key pair and a TLS key and certificate for every mix and client that
 * lacks them, public files published beside the config. With `--id`, before any config exists
 * (an operator on its own host): the keys of that one node, secret ones in `<dir>/secret` (the
 * default `keys_dir` of a config in `<dir>`), its public key and certificate in `<dir>`; export
 * them with `deno task descriptor`. `--force` replaces existing keys.
 *
 * @module
 */
import { join } from "node:path";
import { loadConfig } from "../src/config/mod.ts";
import { createSealedBox, ensureKeyPair, ensureTlsIdentity } from "../src/crypto/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { generateKeys } from "./launch/mod.ts";

const USAGE = `Usage: deno task keygen [--config config/config.yaml] [--force]
       deno task keygen --id NODE_ID [--dir .] [--force]`;

async function main(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    config: flag.text(),
    id: flag.text(),
    dir: flag.text(),
    force: flag.switch(),
    help: flag.switch("h"),
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const force = values.force ?? false;
  if (values.id !== undefined) {
    if (values.config !== undefined) throw new UsageError("--id and --config exclude each other");
    const dir = values.dir ?? ".";
    const paths = { configDir: dir, keysDir: join(dir, "secret") };
    const box = await createSealedBox();
    const { created } = await ensureKeyPair(box, paths, values.id, { force });
    const tls = await ensureTlsIdentity(paths, values.id, { force });
    console.log(
      `${created || tls.created ? "created" : "kept (use --force to replace)"}: ${values.id}`,
    );
    console.log(`TLS certificate fingerprint (SHA-256): ${tls.identity.certificate.fingerprint}`);
    console.log(
      `public files in ${dir}, secret keys in ${paths.keysDir}; next: deno task descriptor`,
    );
    return 0;
  }
  if (values.dir !== undefined) throw new UsageError("--dir goes with --id");
  const config = await loadConfig(values.config ?? "config/config.yaml");
  const report = await generateKeys(config, force);
  for (const node of [...config.mixServers, ...config.clients]) {
    await ensureTlsIdentity({ configDir: config.dir, keysDir: config.keysDir }, node.id, { force });
  }
  if (report.created.length) console.log(`created: ${report.created.join(", ")}`);
  if (report.kept.length) console.log(`kept (use --force to replace): ${report.kept.join(", ")}`);
  console.log(`public keys and certificates in ${config.dir}, secret keys in ${config.keysDir}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`keygen: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
