/**
 * A process that serves `ForwardBatch` only, reading every chunk and answering: the receiving
 * mix of bench/forward_bench.ts without its storage or crypto. Prints its port, then serves
 * until killed.
 *
 *   deno run --allow-read --allow-net=127.0.0.1 --allow-env --allow-sys \
 *     bench/_forward_server.ts --window BYTES
 */
import { MixnetError } from "../src/errors.ts";
import { flag, parseFlags } from "../src/flags.ts";
import { batchPackets, type MixServerHandlers, startServer } from "../src/rpc/mod.ts";

const unused = () => Promise.reject(new MixnetError("Not served here", { status: "not-found" }));
const handlers: MixServerHandlers = {
  ForwardMessage: unused,
  PollMessages: unused,
  Register: unused,
  WaitForStart: unused,
  async ForwardBatch(chunks) {
    let packets = 0;
    for await (const chunk of chunks) packets += batchPackets(chunk).length;
    return { status: `received ${packets}` };
  },
};

const server = await startServer("127.0.0.1:0", {
  mix: handlers,
  maxMessageBytes: 64 * 1024 * 1024,
  receiveWindowBytes: parseFlags(Deno.args, { window: flag.int({ min: 65_535 }) }).values.window,
});
console.log(server.port);
