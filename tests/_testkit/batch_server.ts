/**
 * A `ForwardBatch` server in a process of its own (`tests/testdata/batch_server.ts`), for tests
 * that kill a peer outright and start it again.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { startDenoServer } from "../../tasks/launch/mod.ts";

const SERVER = fileURLToPath(new URL("../testdata/batch_server.ts", import.meta.url));

/** A server process on `address` over `transport`, resolved once it listens. */
export async function startBatchServer(
  address: string,
  transport: "grpc" | "wire" = "grpc",
): Promise<Deno.ChildProcess> {
  const { child, firstLine } = await startDenoServer(
    ["--allow-read", "--allow-net=127.0.0.1", "--allow-env", "--allow-sys"]
      .concat(SERVER, address, transport),
  );
  if (firstLine === "ready") return child;
  await killOutright(child);
  throw new Error(`the server on ${address} said ${firstLine}, not ready`);
}

/** Kills a server process outright, as a crash would: no goodbye on its connections. */
export async function killOutright(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  await child.status;
  await child.stdout.cancel().catch(() => {});
}
