/**
 * Errors a user can fix. Each message names the culprit (the file, variable, flag or key) and the fix; the CLI
 * prints it without a stack trace and exits 2. Anything else is a bug in wraplab: exit 1 (WRAPLAB_DEBUG=1 shows
 * the stack). One base class, so the exit code never depends on a message's wording.
 */
export class WraplabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** True for errors whose message is meant for the user (exit 2). */
export function isUserError(e: unknown): boolean {
  return e instanceof WraplabError;
}

/** A bad environment variable: names the variable, its value and what it accepts. */
export class EnvError extends WraplabError {}

/** A run directory's file that cannot be read as what it should be: names the file and the fix. */
export class RunFileError extends WraplabError {}
