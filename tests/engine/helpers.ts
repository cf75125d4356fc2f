import assert from 'node:assert/strict';

/** Max |a - b| relative to max |b| (at least `floor`: gradients that are zero in exact arithmetic are noise). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  assert.equal(a.length, b.length);
  let scale = floor;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / scale;
}

/** Runs f with a switch on, then off, and turns it back on: [result on, result off]. */
export function onAndOff<T>(setEnabled: (on: boolean) => void, f: () => T): [T, T] {
  try {
    setEnabled(true);
    const a = f();
    setEnabled(false);
    const b = f();
    return [a, b];
  } finally {
    setEnabled(true);
  }
}
