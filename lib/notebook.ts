/**
 * Notebook awareness: inside a tslab kernel, library code can show rich output (figures, tables, live
 * progress). Outside one, these helpers report false and callers fall back to the terminal.
 */
export interface TslabDisplay {
  html(s: string): void;
  text(s: string): void;
  markdown(s: string): void;
  png(b: Uint8Array): void;
  raw(contentType: string, b: string | Uint8Array): unknown;
}
interface TslabModule {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

let cached: TslabModule | null | undefined;

/** The tslab module when this process is a running tslab kernel, else null. */
export function tslab(): TslabModule | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    // tslab's display only works once its kernel has registered the output channel.
    const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData?: unknown };
    if (jupyter.lastWriteDisplayData) cached = require('tslab') as TslabModule;
  } catch {
    // tslab not installed, or not a kernel
  }
  return cached;
}

export function inNotebook(): boolean {
  return tslab() !== null;
}

/** An informational line: stderr in a terminal (stdout stays for results), stdout in a notebook (no red box). */
export function info(line: string): void {
  if (inNotebook()) console.log(line);
  else console.error(line);
}
