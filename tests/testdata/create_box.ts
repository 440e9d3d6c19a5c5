/**
 * Creates the sealed box named by the first argument and prints its name, or the error and
 * exit code 1: tests run it under chosen permissions.
 */
import { createSealedBox } from "../../src/crypto/mod.ts";
import { errorMessage } from "../../src/errors.ts";

try {
  console.log((await createSealedBox(Deno.args[0])).name);
} catch (error) {
  console.error(errorMessage(error));
  Deno.exit(1);
}
