/** Role entry scripts as real subprocesses, as the tasks run them. */
import { NodeProcess as TaskNodeProcess } from "../../tasks/_launcher.ts";

/** A node subprocess started with the tests' argument order (`script`, id, config). */
export class NodeProcess extends TaskNodeProcess {
  constructor(
    script: "mix.ts" | "client.ts",
    id: string,
    configPath: string,
    extra: string[] = [],
  ) {
    super(script === "mix.ts" ? "mix" : "client", id, configPath, { args: extra });
  }
}
