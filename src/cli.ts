/**
 * The user's command line: queue a message at a client, or fetch a client's messages. Both
 * call the client's own service with the token of its API cookie (see client/cookie.ts).
 *
 *   deno run --allow-read --allow-net=127.0.0.1 src/cli.ts send --from client_1 --to client_2 --message "hi"
 *   deno run --allow-read --allow-net=127.0.0.1 src/cli.ts poll --client client_2
 *
 * (`bin/mixnet send|poll` grants the hosts the config names instead of loopback.)
 *
 * @module
 */
import { type Config, loadConfig, type NodeConfig } from "./config/mod.ts";
import { cookieHeaders, readCookie } from "./client/cookie.ts";
import { publicKeyPath } from "./crypto/mod.ts";
import { formatMessage, type PollFormat } from "./cli/output.ts";
import { errorMessage, MixnetError } from "./errors.ts";
import { flag, parseFlags, UsageError } from "./flags.ts";
import { ClientStub, grpc, maxMessageBytes, RpcError, userChannel } from "./rpc/mod.ts";

const USAGE = `Usage:
  cli.ts send --from CLIENT --to CLIENT --message TEXT [--config config/config.yaml]
  cli.ts poll --client CLIENT [--json | --raw] [--config config/config.yaml]
poll prints one message per line with control characters and backslashes escaped (\\x1b, \\n,
\\\\); --json prints one {"message": ...} object per line; --raw prints the messages as they are.`;

/** Every flag of both commands. */
const FLAGS = {
  from: flag.text(),
  to: flag.text(),
  message: flag.string(),
  client: flag.text(),
  config: flag.text(),
  json: flag.switch(),
  raw: flag.switch(),
  help: flag.switch("h"),
};

/** Runs the command line with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const [command, ...rest] = args;
    const { values } = parseFlags(rest, FLAGS);
    if (values.help || command === "help" || command === undefined) {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    const config = await loadConfig(
      values.config ?? Deno.env.get("CONFIG_PATH") ?? "config/config.yaml",
    );
    if (command === "send") return await send(config, values);
    if (command === "poll") return await poll(config, values);
    throw new UsageError(`Unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    if (error instanceof UsageError) {
      console.error(USAGE);
      return 2;
    }
    return 1;
  }
}

async function send(
  config: Config,
  values: { from?: string; to?: string; message?: string },
): Promise<number> {
  const from = findClient(config, values.from, "--from");
  const to = findClient(config, values.to, "--to");
  if (values.message === undefined) throw new UsageError("Missing --message");
  const keyFile = publicKeyPath(config.dir, to.id);
  let key: Uint8Array;
  try {
    key = await Deno.readFile(keyFile);
  } catch {
    throw new Error(
      `Cannot read the public key of ${to.id} from ${keyFile}: has it started once (or run "deno task keygen")?`,
    );
  }
  const stub = await clientStub(config, from);
  try {
    const response = await stub.prepareMessage({
      message: values.message,
      recipient_pubkey: key,
      recipient_addr: to.address,
    });
    if (!response.status) throw new Error(`${from.id} refused the message: ${response.reason}`);
    console.log(
      `queued for round ${response.round} (prepared in ${response.prepare_ms.toFixed(2)} ms)`,
    );
    return 0;
  } catch (error) {
    throw explain(error, from);
  } finally {
    stub.close();
  }
}

async function poll(
  config: Config,
  values: { client?: string; json?: boolean; raw?: boolean },
): Promise<number> {
  const client = findClient(config, values.client, "--client");
  if (values.json && values.raw) throw new UsageError("--json and --raw exclude each other");
  const format: PollFormat = values.json ? "json" : values.raw ? "raw" : "text";
  const stub = await clientStub(config, client);
  try {
    const { messages } = await stub.pollMessages();
    if (messages.length === 0) console.error(`no new messages for ${client.id}`);
    for (const message of messages) console.log(formatMessage(message, format));
    return 0;
  } catch (error) {
    throw explain(error, client);
  } finally {
    stub.close();
  }
}

/**
 * A stub of `client`'s own service that sends the token of its API cookie, over TLS pinned to
 * the client's certificate where links to it use TLS.
 */
async function clientStub(config: Config, client: NodeConfig): Promise<ClientStub> {
  let headers: Record<string, string>;
  let credentials: grpc.ChannelCredentials | undefined;
  try {
    headers = cookieHeaders(readCookie(config.keysDir, client.id));
    credentials = await userChannel(config, client);
  } catch (error) {
    throw explain(error, client);
  }
  return new ClientStub(client.address, {
    maxMessageBytes: maxMessageBytes(config),
    name: client.id,
    headers,
    credentials,
    // A user who runs a command wants to hear at once that nothing is running.
    failFast: true,
  });
}

function findClient(config: Config, id: string | undefined, flag: string): NodeConfig {
  if (!id) throw new UsageError(`Missing ${flag}`);
  const client = config.clients.find((c) => c.id === id);
  if (!client) {
    throw new UsageError(
      `${flag}: no client ${JSON.stringify(id)} in ${config.file} (known: ${
        config.clients.map((c) => c.id).join(", ")
      })`,
    );
  }
  return client;
}

function explain(error: unknown, client: NodeConfig): Error {
  if (error instanceof RpcError && /Requires net access/.test(error.details)) {
    return new Error(
      `${client.id} at ${client.address} is off loopback, which "deno task send" and "poll" may ` +
        `not dial: run the command through bin/mixnet (e.g. bin/mixnet send …), which grants ` +
        `the hosts the config names`,
    );
  }
  const refused = error instanceof RpcError &&
    /Error: (.*? (?:not the one pinned for it \([^)]*\)|without proving it holds the key: \S+))/
      .exec(error.details);
  if (refused) return new Error(`${client.id} refused over TLS: ${refused[1]}`);
  const start = `is the network running? (start it with "deno task network")`;
  const unreachable = [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED];
  if (error instanceof RpcError && unreachable.includes(error.code)) {
    return new Error(
      `${client.id} at ${client.address} is not reachable: ${start} [${grpc.status[error.code]}]`,
    );
  }
  if (!(error instanceof RpcError) && error instanceof MixnetError) {
    return new Error(error.status === "unavailable" ? `${error.message}: ${start}` : error.message);
  }
  if (error instanceof RpcError) return new Error(`${client.id} refused: ${error.details}`);
  return error as Error;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
