/** Shared helpers for the Tracr tests: run a compiled program with the float64 reference forward pass. */
import assert from 'node:assert/strict';
import { Rng } from '../../lib/engine/rng';
import { CompiledProgram, evaluate, EvalOptions, MaybeValue, referenceForward, ReferenceResult, SOp, Value } from '../../lib/tasks/tracr';

export interface Run {
  /** Decoded output at each real position (RASP index i = model position i + 1). */
  outputs: Value[];
  result: ReferenceResult;
  T: number;
}

export function runReference(cp: CompiledProgram, xs: readonly Value[], padTo?: number): Run {
  const ids = cp.encode(xs, { padTo });
  const result = referenceForward(cp.modelConfig, cp.weights, ids);
  const O = cp.modelConfig.outputSize;
  const outputs: Value[] = [];
  for (let t = 1; t <= xs.length; t++) outputs.push(cp.decodeOutput(result.logits.subarray(t * O, (t + 1) * O)));
  return { outputs, result, T: ids.length };
}

/** Numerical outputs within `tolerance` (1e-6; use ~1e-4 for float32). Compiled outputs equal the evaluator wherever the evaluator is defined (non-null). Returns #positions compared. */
export function assertMatchesEvaluator(
  cp: CompiledProgram,
  program: SOp,
  xs: readonly Value[],
  opts: EvalOptions & { tolerance?: number } = {},
  outputs?: Value[],
): number {
  const expected = evaluate(program, xs, { causal: cp.options.causal, ...opts });
  const tolerance = opts.tolerance ?? 1e-6;
  const got = outputs ?? runReference(cp, xs).outputs;
  let compared = 0;
  expected.forEach((e, i) => {
    if (e === null) return;
    compared++;
    if (typeof e === 'number' && cp.outputValues === null) {
      assert.ok(Math.abs(Number(got[i]) - e) < tolerance, `${program.label}(${xs.join(' ')}) at ${i}: got ${got[i]}, expected ${e}`);
    } else {
      assert.equal(got[i], e, `${program.label}(${xs.join(' ')}) at ${i}`);
    }
  });
  return compared;
}

export function randomSeq(rng: Rng, vocab: readonly Value[], length: number): Value[] {
  return Array.from({ length }, () => rng.pick(vocab));
}

export function randomDistinct(rng: Rng, vocab: readonly Value[], length: number): Value[] {
  return rng.shuffle([...vocab]).slice(0, length);
}

/** All sequences over vocab with length 1..maxLen. */
export function allSequences(vocab: readonly Value[], maxLen: number): Value[][] {
  const out: Value[][] = [];
  let layer: Value[][] = [[]];
  for (let len = 1; len <= maxLen; len++) {
    layer = layer.flatMap((s) => vocab.map((v) => [...s, v]));
    out.push(...layer);
  }
  return out;
}

export type { MaybeValue };
