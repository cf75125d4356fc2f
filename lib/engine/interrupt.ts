/**
 * Ctrl-C in a terminal and Kernel → Interrupt in Jupyter (both SIGINT) stop a training loop between steps: the loop
 * yields to the event loop every ~100 ms so the signal handler can run, then saves a checkpoint and throws
 * `TrainingInterrupted`, whose message says how to resume (run the same command or cell again). A second Ctrl-C
 * in a terminal exits at once. With no training running, SIGINT does what it did before: a CLI exits (130); in a
 * notebook the kernel's own handler deals with it.
 */
import { WraplabError } from './errors';

export class TrainingInterrupted extends WraplabError {}

let requested = false;
let active = 0;
let installed = false;
let lastYield = 0;

function inNotebook(): boolean {
  return (require('../notebook') as typeof import('../notebook')).inNotebook();
}

let announce: (() => string) | null = null;

function onSigint(): void {
  if (active > 0 && !requested) {
    requested = true;
    // tslab ends the cell on the same signal, and the classic Notebook drops what a finished cell prints: so in a
    // notebook the message goes out now, from a listener that runs before tslab's.
    if (announce && inNotebook()) console.log(`wraplab: ${announce()}`);
    return;
  }
  if (!inNotebook()) process.exit(130);
}

/**
 * Marks a loop as interruptible until the returned function is called. `describe` says, when the signal comes,
 * what stops and how to resume (printed at once in a notebook).
 */
export function watchInterrupts(describe?: () => string): () => void {
  if (!installed) {
    installed = true;
    process.prependListener('SIGINT', onSigint);
  }
  if (active === 0) requested = false;
  active++;
  const previous = announce;
  if (describe) announce = describe;
  return () => {
    active--;
    announce = previous;
    if (active === 0) requested = false;
  };
}

export function interruptRequested(): boolean {
  return requested;
}

/** Lets pending signals and timers run at most every `ms` (a setImmediate turn costs ~0.05 ms). */
export async function yieldToEvents(ms = 100): Promise<void> {
  const now = Date.now();
  if (now - lastYield < ms) return;
  lastYield = now;
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * The error to throw. In a notebook tslab has already ended the cell ("Interrupted asynchronously") when the loop
 * stops, so nobody sees the error: the message is printed too. In a terminal it ends the progress bar's line.
 */
export function interrupted(message: string): TrainingInterrupted {
  if (inNotebook()) console.error(`wraplab: ${message}`);
  else process.stderr.write('\n');
  return new TrainingInterrupted(message);
}

/** For tests: as if SIGINT had arrived. */
export function requestInterrupt(): void {
  if (active > 0) requested = true;
}
