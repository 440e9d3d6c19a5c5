/**
 * Writing key material: atomically (a reader never sees half a file), with its mode set before
 * it appears, and publishing public files only when their content changes (a config folder
 * mounted read-only, as a Kubernetes ConfigMap is, already holds them).
 *
 * @module
 */

/** Writes `text` to `path` through a temp file renamed over it, with `mode`. */
export async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temporary, text, { mode, createNew: true });
  await Deno.chmod(temporary, mode);
  await Deno.rename(temporary, path);
}

/** Writes a public file (mode 0644) unless it already holds exactly `text`. */
export async function publish(path: string, text: string): Promise<void> {
  const current = await Deno.readTextFile(path).catch(() => undefined);
  if (current !== text) await writeAtomically(path, text, 0o644);
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
