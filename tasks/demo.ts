/**
 * `deno task demo`: a newcomer's first run. Starts a network on free ports in a temp folder,
 * sends one message from client_1 to client_2, polls client_2 every 0.1 s until it arrives,
 * prints it with the measured delivery time, and stops the network.
 *
 * @module
 */
import { cookieHeaders, readCookie } from "../src/client/cookie.ts";
import { loadConfig } from "../src/config/mod.ts";
import { errorMessage } from "../src/errors.ts";
import { flag, parseFlags, UsageError } from "../src/flags.ts";
import { ClientStub, maxMessageBytes } from "../src/rpc/mod.ts";
import { denoCommand, deriveConfig, generateKeys, startNetwork } from "./launch/mod.ts";

const MESSAGE = "Hello from client_1, through three mixes!";
const USAGE = "Usage: deno task demo (no flags)";

async function main(): Promise<void> {
  if (parseFlags(Deno.args, { help: flag.switch("h") }).values.help) {
    console.log(USAGE);
    return;
  }
  const configPath = await deriveConfig("config/config.yaml", { roundDuration: 0.5 });
  const dir = configPath.slice(0, configPath.lastIndexOf("/"));
  try {
    await run(configPath, dir);
  } finally {
    // The folder holds the run's secret keys: removed however the demo ends.
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(`demo: network stopped. Run it yourself: ${denoCommand(Deno.env)} task network`);
}

/** Starts the network of `configPath`, sends the message, waits for it, stops the network. */
async function run(configPath: string, dir: string): Promise<void> {
  const config = await loadConfig(configPath);
  await generateKeys(config);
  const [from, to] = config.clients;
  console.log(
    `demo: starting 3 mixes and ${config.clients.length} clients on free ports (rounds of 0.5 s)…`,
  );
  const network = await startNetwork(configPath);
  const limit = maxMessageBytes(config);
  const stub = (client: typeof from) =>
    new ClientStub(client.address, {
      maxMessageBytes: limit,
      name: client.id,
      headers: cookieHeaders(readCookie(config.keysDir, client.id)),
    });
  const sender = stub(from);
  const receiver = stub(to);
  try {
    console.log(
      `demo: every client now sends one packet per round (a dummy when it has nothing to say)` +
        ` and fetches its mailbox every round`,
    );
    const started = performance.now();
    const prepared = await sender.prepareMessage({
      message: MESSAGE,
      recipient_pubkey: await Deno.readFile(`${dir}/${to.id}.key`),
      recipient_addr: to.address,
    });
    console.log(
      `demo: ${from.id} built the onion in ${
        prepared.prepare_ms.toFixed(2)
      } ms; it leaves in round ${prepared.round}`,
    );
    for (;;) {
      const { messages } = await receiver.pollMessages();
      if (messages.length > 0) {
        const seconds = (performance.now() - started) / 1000;
        console.log(
          `demo: ${to.id} received ${JSON.stringify(messages[0])} after ${seconds.toFixed(3)} s`,
        );
        break;
      }
      if (performance.now() - started > 30_000) {
        throw new Error("the message did not arrive within 30 s");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    sender.close();
    receiver.close();
    await network.stop();
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`demo: ${errorMessage(error)}`);
    if (error instanceof UsageError) console.error(USAGE);
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
