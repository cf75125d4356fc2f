/**
 * Stage 0 of the compiler: reject what cannot be compiled exactly, before any block is built
 * (Tracr's compiler/validating.py, plus the limits of this compiler's own blocks).
 *
 * - `checkProgram(program, opts)`: what compile runs first. Structure (an S-Op, expressions for
 *   children, unique labels), Tracr's static encoding rules, then the rules that need value sets.
 *   Throws one TracrCompileError naming the expression, the rule and the fix; returns the graph.
 * - `validate(program, inputs)`: the same rules as a list of findings, plus the dynamic check on the
 *   given inputs (a categorical Aggregate that would average different values).
 */
import { evaluateTrace, EvalOptions } from './evaluate';
import { buildGraph, GraphOptions, postOrder, ProgramGraph } from './graph';
import { defaultMlpLargeNumber } from './blocks';
import { AggregateSOp, AnyExpr, AnySOp, MaybeValue, pyEq, RaspExpr, Select, SOp, TracrCompileError, Value } from './rasp';

/** The rules, as they appear in TracrCompileError.rule and Finding.rule. */
export type ValidationRule =
  | 'not-an-sop'
  | 'bad-operand'
  | 'duplicate-label'
  | 'reserved-label'
  | 'primitive-encoding'
  | 'selector-width-encoding'
  | 'numerical-selector'
  | 'aggregate-encoding'
  | 'categorical-aggregate-default'
  | 'numerical-aggregate-default'
  | 'numerical-sequence-map'
  | 'function-throws'
  | 'bad-value'
  | 'predicate-throws'
  | 'numerical-non-number'
  | 'numerical-none'
  | 'python-equal-values'
  | 'empty-output'
  | 'numerical-aggregate-not-01'
  | 'discretising-gap'
  | 'ambiguous-aggregate';

export interface Finding {
  /** Label of the offending expression. */
  label: string;
  rule: ValidationRule;
  /** One sentence: what is wrong, the rule, what to do instead. */
  message: string;
  /** Dynamic findings: the input and the query position (RASP index) where it happens. */
  input?: readonly Value[];
  position?: number;
}

export interface CheckOptions extends GraphOptions {
  /** Slope of discretising MLPs (compile's mlpLargeNumber); default as compile's. */
  mlpLargeNumber?: number;
}

/** Throws a clear error unless `x` is an S-Op: compile's program is the output S-Op, nothing else. */
export function assertSOp(x: unknown, where = 'compile'): asserts x is SOp {
  if (x instanceof SOp) return;
  const fix =
    x instanceof Select
      ? 'a selector is not a sequence: read it with selectorWidth(sel) or aggregate(sel, sop) and pass that'
      : 'pass the output S-Op (tokens, indices, or one built with map, sequenceMap, aggregate or selectorWidth)';
  throw new TracrCompileError(describe(x), 'not-an-sop', `${where} needs an S-Op as the program, got ${describe(x)}; ${fix}`);
}

/** Compile's validation stage: every static rule, first failure thrown. Returns the checked graph. */
export function checkProgram(program: unknown, opts: CheckOptions): ProgramGraph {
  const { findings, graph } = staticFindings(program, opts);
  if (findings.length > 0) throw toError(findings[0]);
  return graph!;
}

/**
 * Tracr's `validate`: every rule the program breaks, as findings (empty = compilable and exact on
 * these inputs). Vocab and maxSeqLen default to the inputs' tokens and longest length.
 */
export function validate(
  program: SOp,
  inputs: readonly (readonly Value[])[],
  opts: Partial<CheckOptions> & Pick<EvalOptions, 'causal'> = {},
): Finding[] {
  const vocab = opts.vocab ?? [...new Map(inputs.flat().map((v) => [`${typeof v}:${String(v)}`, v])).values()];
  const maxSeqLen = opts.maxSeqLen ?? Math.max(1, ...inputs.map((xs) => xs.length));
  const { findings, graph } = staticFindings(program, { ...opts, vocab, maxSeqLen });
  if (!graph) return findings;
  // What was rejected statically is not reported again at every input.
  const reported = new Set(findings.map((f) => `${f.label}\n${f.rule}`));
  const aggregates = graph.sops.filter((s): s is AggregateSOp => s.kind === 'aggregate');
  // Where None enters a numerical S-Op from a categorical one (numerical inputs carry it on).
  const entries = graph.sops.filter((s) => s.encoding === 'numerical' && s.children().every((c) => c instanceof SOp && c.encoding === 'categorical'));
  for (const input of inputs) {
    const trace = evaluateTrace(program, input, { causal: opts.causal });
    const dynamic = [...aggregates.flatMap((a) => aggregateFindings(a, trace, input)), ...entries.flatMap((s) => noneFindings(s, trace, input))];
    findings.push(...dynamic.filter((f) => !reported.has(`${f.label}\n${f.rule}`)));
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------

function toError(f: Finding): TracrCompileError {
  return new TracrCompileError(f.label, f.rule, f.message);
}

function staticFindings(program: unknown, opts: CheckOptions): { findings: Finding[]; graph?: ProgramGraph } {
  assertSOp(program);
  const findings = structureFindings(program);
  if (findings.length > 0) return { findings };
  findings.push(...encodingFindings(program));
  if (findings.length > 0) return { findings };
  let graph: ProgramGraph;
  try {
    graph = buildGraph(program, opts);
  } catch (err) {
    // A map's f that throws or returns what no direction can hold (graph.ts names it).
    if (err instanceof TracrCompileError) return { findings: [{ label: err.label, rule: err.rule as ValidationRule, message: err.message }] };
    throw err;
  }
  findings.push(...valueSetFindings(graph, opts));
  return { findings, graph };
}

/** What a walk needs: every operand an expression of the right kind, labels unique and not reserved. */
function structureFindings(program: SOp): Finding[] {
  const findings: Finding[] = [];
  const byLabel = new Map<string, RaspExpr>();
  const seen = new Set<RaspExpr>();
  const visit = (e: AnyExpr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    const other = byLabel.get(e.label);
    if (other && other !== e) {
      findings.push(finding(e, 'duplicate-label', `two different expressions are labelled "${e.label}" (${other.kind} and ${e.kind}); labels name residual directions, so give one of them another name with .named(...)`));
    }
    byLabel.set(e.label, e);
    if (e.label === 'one' || (e.label === 'tokens' && e.kind !== 'tokens') || (e.label === 'indices' && e.kind !== 'indices')) {
      findings.push(finding(e, 'reserved-label', `${e.kind} "${e.label}" uses a reserved label ("one" is the constant direction, "tokens"/"indices" the primitives); rename it with .named(...)`));
    }
    for (const [role, child, want] of operands(e)) {
      const ok = want === 'sop' ? child instanceof SOp : child instanceof Select;
      if (!ok) {
        findings.push(finding(e, 'bad-operand', `${e.kind} "${e.label}": its ${role} must be ${want === 'sop' ? 'an S-Op' : 'a Select'}, got ${describe(child)}; build it with the RASP builders (tokens, indices, map, select, ...)`));
      } else visit(child as AnyExpr);
    }
  };
  visit(program as AnySOp);
  return findings;
}

/** Each expression's operands: the role (for messages), the value, what kind it must be. */
function operands(e: AnyExpr): [string, unknown, 'sop' | 'select'][] {
  switch (e.kind) {
    case 'tokens':
    case 'indices':
      return [];
    case 'map':
      return [['input', e.inner, 'sop']];
    case 'sequence_map':
      return [['first input', e.first, 'sop'], ['second input', e.second, 'sop']];
    case 'select':
      return [['keys', e.keys, 'sop'], ['queries', e.queries, 'sop']];
    case 'selector_width':
      return [['selector', e.selector, 'select']];
    case 'aggregate':
      return [['selector', e.selector, 'select'], ['input', e.sop, 'sop']];
  }
}

/** Tracr's static rules (validating.py), plus the encodings our blocks fix (primitives, selectorWidth). */
function encodingFindings(program: SOp): Finding[] {
  const findings: Finding[] = [];
  for (const e of postOrder(program)) {
    switch (e.kind) {
      case 'tokens':
      case 'indices':
        if (e.encoding !== 'categorical') findings.push(finding(e, 'primitive-encoding', `${e.label} is always categorical; do not mark it numerical (map it into a numerical S-Op instead)`));
        break;
      case 'selector_width':
        if (e.encoding !== 'categorical') findings.push(finding(e, 'selector-width-encoding', `selectorWidth "${e.label}" must stay categorical (its MLP writes a one-hot width); map it into a numerical S-Op if you need one`));
        break;
      case 'select':
        for (const [role, side] of [['keys', e.keys], ['queries', e.queries]] as const) {
          if (side.encoding !== 'categorical') {
            findings.push(finding(e, 'numerical-selector', `select "${e.label}": its ${role} "${side.label}" are numerical, but a selector compares one-hot values (Tracr: keys and queries must be categorical); select on a categorical S-Op, e.g. categorical(map(...)) of it`));
          }
        }
        break;
      case 'sequence_map':
        if (e.first.encoding !== 'categorical' || e.second.encoding !== 'categorical') {
          const num = [e.first, e.second].filter((s) => s.encoding === 'numerical').map((s) => `"${s.label}"`);
          findings.push(finding(e, 'numerical-sequence-map', `sequenceMap "${e.label}" reads numerical ${num.join(' and ')}, but a non-linear sequenceMap needs categorical inputs (one hidden unit per value pair); make the inputs categorical`));
        }
        break;
      case 'aggregate':
        if (e.encoding !== e.sop.encoding) {
          findings.push(finding(e, 'aggregate-encoding', `aggregate "${e.label}" is ${e.encoding} but its input "${e.sop.label}" is ${e.sop.encoding}; an aggregate's encoding must be its input's (leave the encoding to aggregate(), or map the result afterwards)`));
        } else if (e.encoding === 'categorical' && e.defaultValue !== null) {
          findings.push(finding(e, 'categorical-aggregate-default', `categorical aggregate "${e.label}" has default ${JSON.stringify(e.defaultValue)}, but the compiled head outputs nothing (None) where no key is selected; use the default null and map null afterwards if needed`));
        } else if (e.encoding === 'numerical' && e.defaultValue !== 0) {
          findings.push(finding(e, 'numerical-aggregate-default', `numerical aggregate "${e.label}" has default ${JSON.stringify(e.defaultValue)}, but the compiled head outputs 0 where no key is selected; use the default 0`));
        }
        break;
    }
  }
  return findings;
}

/** Rules decided from the inferred value sets: what our blocks could not compute exactly. */
function valueSetFindings(graph: ProgramGraph, opts: CheckOptions): Finding[] {
  const findings: Finding[] = [];
  const values = (s: SOp): Value[] => graph.valueSets.get(s as AnySOp)!;
  for (const sel of graph.selects) {
    const broken = predicateFailure(sel, values(sel.keys), values(sel.queries));
    if (broken) findings.push(finding(sel, 'predicate-throws', `select "${sel.label}": predicate ${sel.predicate.name} throws on key ${JSON.stringify(broken.key)}, query ${JSON.stringify(broken.query)} (${broken.message}); every key/query value pair is tested at compile time, so make the predicate total on them`));
  }
  for (const s of graph.sops) {
    const vs = values(s);
    const twins = pythonEqualPair(vs);
    if (s.encoding === 'numerical') {
      const bad = vs.find((v) => typeof v === 'string');
      if (bad !== undefined) findings.push(finding(s, 'numerical-non-number', `numerical ${s.kind} "${s.label}" can hold ${JSON.stringify(bad)}, but a numerical S-Op is one scalar; return numbers (or booleans) or make it categorical`));
      const none = noneInput(s, values);
      if (none) findings.push(finding(s, 'numerical-none', `numerical ${s.kind} "${s.label}" returns null on input ${none}, but a numerical direction holds None as 0, which later maps would read as a value; return a number there (e.g. 0) or make "${s.label}" categorical`));
    } else if (twins) {
      findings.push(finding(s, 'python-equal-values', `${s.kind} "${s.label}" can hold both ${JSON.stringify(twins[0])} and ${JSON.stringify(twins[1])}, equal under Python's == (True == 1) but two different one-hot directions; return one type (e.g. Number(b) or b === 1)`));
    }
    if (s === graph.output && s.encoding === 'categorical' && vs.length === 0) {
      findings.push(finding(s, 'empty-output', `output ${s.kind} "${s.label}" has no possible value (it is null everywhere), so the model would have no logits to decode; return a value for some input`));
    }
    if (s.kind === 'aggregate' && s.encoding === 'numerical') {
      const inVals = values(s.sop);
      if (!inVals.every((v) => Number(v) === 0 || Number(v) === 1)) {
        findings.push(finding(s, 'numerical-aggregate-not-01', `numerical aggregate "${s.label}" reads "${s.sop.label}", whose values {${inVals.map(String).join(', ')}} are not all in {0, 1}; a numerical aggregate compiles exactly only over {0,1}-valued inputs (its outputs are then the fractions v/k that later layers can read); aggregate a 0/1 indicator and rescale the mean with a numerical map afterwards`));
      }
    }
    if (s.kind === 'map' && s.inner.encoding === 'numerical') {
      const L = opts.mlpLargeNumber ?? defaultMlpLargeNumber(opts.maxSeqLen);
      const points = [...new Set(values(s.inner).map(Number))].sort((a, b) => a - b);
      const minGap = Math.min(...points.slice(1).map((p, i) => p - points[i]));
      if (minGap < 2 / L) {
        findings.push(finding(s, 'discretising-gap', `map "${s.label}" reads numerical "${s.inner.label}", whose values come as close as ${minGap}; its discretising MLP separates values only 2/mlpLargeNumber = ${2 / L} apart; raise mlpLargeNumber to at least ${Math.ceil(2 / minGap)} or spread the values`));
      }
    }
  }
  return findings;
}

/** The dynamic check on one input: an aggregate whose selected values the compiled head cannot output. */
function aggregateFindings(a: AggregateSOp, trace: Map<AnyExpr, MaybeValue[] | boolean[][]>, input: readonly Value[]): Finding[] {
  const selected = trace.get(a.selector) as boolean[][];
  const values = trace.get(a.sop as AnySOp) as MaybeValue[];
  const findings: Finding[] = [];
  selected.forEach((row, q) => {
    // None counts as a value of its own: the head averages its zero vector with the others.
    const picked = values.filter((_, k) => row[k]);
    if (a.encoding === 'categorical' && picked.some((v) => !pyEq(v, picked[0]))) {
      findings.push({
        ...finding(a, 'ambiguous-aggregate', `categorical aggregate "${a.label}" at index ${q} of ${JSON.stringify(input)} selects ${picked.length} keys with different values ${JSON.stringify(picked)}; the compiled head would output their mixture, not one value; select one key per query (or keys with equal values), or use a numerical aggregate of a 0/1 S-Op for a mean`),
        input,
        position: q,
      });
    }
    if (a.encoding === 'numerical' && picked.some((v) => v !== null && Number(v) !== 0 && Number(v) !== 1)) {
      findings.push({
        ...finding(a, 'numerical-aggregate-not-01', `numerical aggregate "${a.label}" at index ${q} of ${JSON.stringify(input)} averages ${JSON.stringify(picked)}, not all in {0, 1}; aggregate a 0/1 indicator instead`),
        input,
        position: q,
      });
    }
  });
  return findings;
}

/** The dynamic side of 'numerical-none': a None from a categorical input, held as 0 by the model. */
function noneFindings(s: AnySOp, trace: Map<AnyExpr, MaybeValue[] | boolean[][]>, input: readonly Value[]): Finding[] {
  const q = (trace.get(s) as MaybeValue[]).indexOf(null);
  if (q < 0) return [];
  const from = s.children().map((c) => `"${c.label}"`).join(' and ');
  return [{ ...finding(s, 'numerical-none', `numerical ${s.kind} "${s.label}" is None at index ${q} of ${JSON.stringify(input)} (it reads None from ${from}); the model holds it as 0 there, which later maps would read as a value; make sure ${from} is defined there, or keep "${s.label}" categorical`), input, position: q }];
}

/** An input on which a numerical map or sequenceMap returns null (as text), if any. */
function noneInput(s: AnySOp, values: (s: SOp) => Value[]): string | undefined {
  if (s.kind === 'map') {
    const x = values(s.inner).find((v) => s.f(v) === null);
    return x === undefined ? undefined : JSON.stringify(x);
  }
  if (s.kind === 'sequence_map') {
    for (const x of values(s.first)) for (const y of values(s.second)) if (s.f(x, y) === null) return `${JSON.stringify(x)}, ${JSON.stringify(y)}`;
  }
  return undefined;
}

function finding(e: RaspExpr, rule: ValidationRule, message: string): Finding {
  return { label: e.label, rule, message };
}

function predicateFailure(sel: Select, keys: Value[], queries: Value[]): { key: Value; query: Value; message: string } | undefined {
  for (const query of queries) {
    for (const key of keys) {
      try {
        sel.predicate.test(key, query);
      } catch (err) {
        return { key, query, message: (err as Error).message };
      }
    }
  }
  return undefined;
}

/** Two values of a set that Python's == merges (true/1, false/0), if any. */
function pythonEqualPair(vs: readonly Value[]): [Value, Value] | undefined {
  const bools = vs.filter((v) => typeof v === 'boolean');
  for (const b of bools) {
    const n = vs.find((v) => typeof v === 'number' && pyEq(v, b));
    if (n !== undefined) return [b, n];
  }
  return undefined;
}

/** What was passed, for messages: `null`, `the number 3`, `a Select "select_4"`, `a plain object {...}`. */
function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (x instanceof RaspExpr) return `a ${x.constructor.name} "${x.label}"`;
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return `the ${typeof x} ${String(x)}`;
  if (typeof x === 'string') return `the string ${JSON.stringify(x)}`;
  if (typeof x === 'function') return `a function${x.name ? ` (${x.name})` : ''}`;
  if (Array.isArray(x)) return `an array of ${x.length}`;
  const proto = Object.getPrototypeOf(x);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(x as object);
    return `a plain object {${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', ...' : ''}}`;
  }
  return `a ${(proto.constructor as { name?: string })?.name ?? 'value'}`;
}
