/**
 * The Tracr compiler: RASP program -> weights for the engine's Transformer (lib/engine/model).
 *
 *   rasp (program) -> graph.ts (value sets) -> blocks.ts (one block per S-Op)
 *     -> schedule.ts (layers) -> layout.ts (residual basis) -> assemble.ts (weights)
 *
 * The model: norm 'none', ReLU MLPs, learned (one-hot, fixed) positions, zero biases, context N+1 with
 * BOS at position 0. Token ids: 0 = BOS, 1..V = the vocab in the given order, V+1 = PAD.
 */
import { type ResolvedModelConfig, resolveModelConfig } from '../../engine/model/config';
import { assembleWeights, LayerBlocks, modelShape } from './assemble';
import { Direction, dir, Space } from './basis';
import {
  aggregateAttention,
  AttentionBlock,
  categoricalMlp,
  categoricalToNumericalMlp,
  defaultMlpLargeNumber,
  MlpBlock,
  numericalMlp,
  SelectorSpec,
  selectorWidthBlocks,
  sequenceMapMlp,
  sopSpace,
  SpecialDirections,
} from './blocks';
import { ProgramGraph } from './graph';
import { ResidualLayout, SOpLayout, WrittenBy } from './layout';
import { AnySOp, MaybeValue, Select, SOp, Value } from './rasp';
import { Schedule, ScheduleNode, scheduleNodes } from './schedule';
import { assertSOp, checkProgram } from './validate';

export interface CompileOptions {
  /** Input vocabulary (token values), in id order 1..V. */
  vocab: readonly Value[];
  /** Longest input (real tokens, without BOS); the model's context is maxSeqLen + 1. */
  maxSeqLen: number;
  /** BOS and PAD symbols; must not be in the vocab. Defaults 'BOS' and 'PAD'. */
  bos?: string;
  pad?: string;
  /** Causal attention mask in the model (RASP semantics then follow evaluate(..., {causal: true})). Default false. */
  causal?: boolean;
  /** Attention score of a selected key (the softmax "coldness"). Default 100. */
  softmaxColdness?: number;
  /** Slope L of discretising MLPs. Default max(100, 2N(N+1)), the smallest exact one for SelectorWidth. */
  mlpLargeNumber?: number;
  /** Zero bias tensors present (like Tracr's params) or absent. Default true. */
  bias?: boolean;
}

export type ResolvedCompileOptions = Required<CompileOptions>;

export function resolveCompileOptions(o: CompileOptions): ResolvedCompileOptions {
  const N = o.maxSeqLen;
  if (!Number.isInteger(N) || N < 1) throw new Error(`compile: maxSeqLen must be a positive integer, got ${N}`);
  if (o.vocab.length === 0) throw new Error('compile: empty vocab');
  const r: ResolvedCompileOptions = {
    vocab: o.vocab,
    maxSeqLen: N,
    bos: o.bos ?? 'BOS',
    pad: o.pad ?? 'PAD',
    causal: o.causal ?? false,
    softmaxColdness: o.softmaxColdness ?? 100,
    mlpLargeNumber: o.mlpLargeNumber ?? defaultMlpLargeNumber(N),
    bias: o.bias ?? true,
  };
  const keys = new Set(r.vocab.map(valueKey));
  if (keys.size !== r.vocab.length) throw new Error('compile: vocab has duplicates');
  for (const s of [r.bos, r.pad]) if (keys.has(valueKey(s))) throw new Error(`compile: ${s} is a special token and cannot be in the vocab`);
  if (r.bos === r.pad) throw new Error('compile: bos and pad must differ');
  return r;
}

function valueKey(v: Value): string {
  return `${typeof v}:${String(v)}`;
}

export class CompiledProgram {
  /** Token of each input id: [BOS, ...vocab, PAD]. */
  readonly tokenOfId: readonly Value[];
  readonly bosId = 0;
  readonly padId: number;
  /** Output value of each logit (categorical output); null for a numerical output (one logit = the value). */
  readonly outputValues: readonly Value[] | null;
  private readonly idOfToken: Map<string, number>;
  private readonly outputIndex: Map<string, number>;

  constructor(
    readonly program: SOp,
    readonly options: ResolvedCompileOptions,
    readonly graph: ProgramGraph,
    readonly schedule: Schedule,
    /** The blocks of each layer, by name (for inspection and block-level tests). */
    readonly layers: readonly LayerBlocks[],
    readonly layout: ResidualLayout,
    readonly modelConfig: ResolvedModelConfig,
    readonly weights: Record<string, Float32Array>,
  ) {
    this.tokenOfId = [options.bos, ...options.vocab, options.pad];
    this.padId = this.tokenOfId.length - 1;
    this.idOfToken = new Map(this.tokenOfId.map((t, i) => [valueKey(t), i]));
    const out = layout.sop(program.label);
    this.outputValues = out.encoding === 'categorical' ? out.values : null;
    this.outputIndex = new Map((this.outputValues ?? []).map((v, i) => [valueKey(v), i]));
  }

  get outputLabel(): string {
    return this.program.label;
  }

  /** Token ids with BOS first; `padTo` appends PAD up to that many ids (at most the context length). */
  encode(xs: readonly Value[], { padTo }: { padTo?: number } = {}): number[] {
    if (xs.length > this.options.maxSeqLen) throw new Error(`encode: ${xs.length} tokens exceed maxSeqLen ${this.options.maxSeqLen}`);
    const ids = [this.bosId];
    xs.forEach((x, i) => {
      const id = this.idOfToken.get(valueKey(x));
      if (id === undefined || id === this.bosId || id === this.padId) {
        const special = id === undefined ? '' : ` (${JSON.stringify(x)} is the ${id === this.bosId ? 'BOS' : 'PAD'} symbol: encode adds BOS itself, and padTo adds PAD)`;
        throw new Error(`encode: token ${JSON.stringify(x)} at position ${i} is not in the vocab ${JSON.stringify(this.options.vocab)}${special}`);
      }
      ids.push(id);
    });
    if (padTo !== undefined) {
      if (padTo > this.modelConfig.contextLength) throw new Error(`encode: padTo ${padTo} exceeds the context ${this.modelConfig.contextLength}`);
      while (ids.length < padTo) ids.push(this.padId);
    }
    return ids;
  }

  /** Tokens of ids (inverse of encode, BOS/PAD included). */
  decodeTokens(ids: readonly number[]): Value[] {
    return ids.map((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.tokenOfId.length) {
        throw new Error(`decodeTokens: ${JSON.stringify(id)} at position ${i} is not a token id; valid ids are 0..${this.padId} (0 = BOS, 1..${this.padId - 1} = the vocab, ${this.padId} = PAD)`);
      }
      return this.tokenOfId[id];
    });
  }

  /** The output value one row of logits stands for: argmax (categorical) or the scalar (numerical). */
  decodeOutput(logits: ArrayLike<number>): Value {
    if (this.outputValues === null) return logits[0];
    let best = 0;
    for (let i = 1; i < this.outputValues.length; i++) if (logits[i] > logits[best]) best = i;
    return this.outputValues[best];
  }

  /** Logit index of an output value (the class id for a cross-entropy target); -1 if it is not an output value. */
  outputIndexOf(value: Value): number {
    return this.outputIndex.get(valueKey(value)) ?? -1;
  }

  /** Every S-Op's value per real position from one residual activation [T, dModel] (see ResidualLayout.decode). */
  decodeResidual(residual: ArrayLike<number>, T: number, labels?: readonly string[]): Map<string, MaybeValue[]> {
    return this.layout.decode(residual, T, labels);
  }

  /** Number of non-zero weights (the compiled model is sparse). */
  nonZeroWeights(): number {
    let n = 0;
    for (const w of Object.values(this.weights)) for (const x of w) if (x !== 0) n++;
    return n;
  }
}

/** Compiles a RASP program (its output S-Op) into engine weights. */
export function compile(program: SOp, options: CompileOptions): CompiledProgram {
  assertSOp(program);
  const opts = resolveCompileOptions(options);
  const N = opts.maxSeqLen;
  // Stage 0: reject what the blocks below cannot compute exactly (validate.ts); also infers value sets.
  const graph = checkProgram(program, { vocab: opts.vocab, maxSeqLen: N, mlpLargeNumber: opts.mlpLargeNumber });
  const special: SpecialDirections = { one: dir('one'), bos: dir('tokens', opts.bos) };
  const values = (s: SOp): Value[] => graph.valueSets.get(s as AnySOp)!;
  const selectorSpec = (s: Select): SelectorSpec => ({
    keyLabel: s.keys.label,
    keyValues: values(s.keys),
    queryLabel: s.queries.label,
    queryValues: values(s.queries),
    predicate: s.predicate,
  });
  const c = opts.softmaxColdness;
  const L = opts.mlpLargeNumber;

  // Blocks and schedule nodes, one per computed S-Op, in topological order.
  const attnOf = new Map<string, AttentionBlock>();
  const mlpOf = new Map<string, MlpBlock>();
  const nodes: ScheduleNode[] = [];
  for (const s of graph.sops) {
    switch (s.kind) {
      case 'tokens':
      case 'indices':
        continue;
      case 'map': {
        const inner = s.inner;
        const mlp =
          inner.encoding === 'numerical'
            ? numericalMlp(s.label, s.encoding, inner.label, values(inner), values(s), s.f, L, special)
            : s.encoding === 'numerical'
              ? categoricalToNumericalMlp(s.label, inner.label, values(inner), s.f)
              : categoricalMlp(s.label, inner.label, values(inner), values(s), s.f);
        mlpOf.set(s.label, mlp);
        nodes.push({ label: s.label, kind: 'mlp', deps: [inner.label] });
        break;
      }
      case 'sequence_map': {
        const mlp = sequenceMapMlp(
          s.label,
          s.encoding,
          { label: s.first.label, values: values(s.first) },
          { label: s.second.label, values: values(s.second) },
          values(s),
          s.f,
          special,
        );
        mlpOf.set(s.label, mlp);
        nodes.push({ label: s.label, kind: 'mlp', deps: [s.first.label, s.second.label] });
        break;
      }
      case 'aggregate': {
        attnOf.set(s.label, aggregateAttention(s.label, s.encoding, selectorSpec(s.selector), { label: s.sop.label, values: values(s.sop) }, c, special));
        nodes.push({ label: s.label, kind: 'attn', deps: [s.selector.keys.label, s.selector.queries.label, s.sop.label] });
        break;
      }
      case 'selector_width': {
        const { attn, mlp } = selectorWidthBlocks(s.label, selectorSpec(s.selector), N, c, L, special);
        attnOf.set(s.label, attn);
        mlpOf.set(s.label, mlp);
        nodes.push({ label: s.label, kind: 'attn+mlp', deps: [s.selector.keys.label, s.selector.queries.label] });
        break;
      }
    }
  }
  const schedule = scheduleNodes(nodes);
  const layers: LayerBlocks[] = Array.from({ length: schedule.nLayers }, () => ({ heads: [], mlps: [] }));
  for (const node of nodes) {
    const p = schedule.placements.get(node.label)!;
    if (p.attnLayer !== undefined) layers[p.attnLayer].heads.push(attnOf.get(node.label)!);
    if (p.mlpLayer !== undefined) layers[p.mlpLayer].mlps.push(mlpOf.get(node.label)!);
  }

  // Residual basis: tokens (with BOS, PAD), indices, one, and everything any block writes; sorted.
  const tokenDirs = [opts.bos, ...opts.vocab, opts.pad].map((t) => dir('tokens', t));
  const indexDirs = Array.from({ length: N }, (_, i) => dir('indices', i));
  const written: Direction[] = [];
  for (const l of layers) {
    for (const h of l.heads) written.push(...h.output.dirs);
    for (const m of l.mlps) written.push(...m.output.dirs);
  }
  const space = Space.join(new Space(tokenDirs), new Space(indexDirs), new Space([special.one]), new Space(written));

  const sopLayouts = new Map<string, SOpLayout>();
  for (const s of graph.sops) {
    const vs = s.kind === 'tokens' ? [...opts.vocab] : values(s);
    const dirs = sopSpace(s.label, s.encoding, vs).dirs;
    let writtenBy: WrittenBy = { kind: 'embed' };
    const p = schedule.placements.get(s.label);
    if (p) writtenBy = p.mlpLayer !== undefined ? { kind: 'mlp', layer: p.mlpLayer } : { kind: 'attn', layer: p.attnLayer! };
    sopLayouts.set(s.label, { label: s.label, encoding: s.encoding, values: s.encoding === 'categorical' ? vs : [], dims: dirs.map((d) => space.index(d)), writtenBy });
  }
  const layout = new ResidualLayout(space, sopLayouts);

  const shape = modelShape(layers);
  const out = sopLayouts.get(program.label)!;
  const modelConfig: ResolvedModelConfig = resolveModelConfig({
    vocabSize: tokenDirs.length,
    outputSize: out.dims.length,
    contextLength: N + 1,
    dModel: space.size,
    nLayers: schedule.nLayers,
    nHeads: shape.nHeads,
    dHead: shape.dHead,
    dMlp: shape.dMlp,
    norm: 'none',
    activation: 'relu',
    positions: 'learned',
    causal: opts.causal,
    bias: opts.bias,
    dropout: 0,
    initStd: 0.02,
  });
  const weights = assembleWeights(
    layers,
    layout,
    {
      tokenOfId: [opts.bos, ...opts.vocab, opts.pad],
      tokenDim: (id) => space.index(tokenDirs[id]),
      oneDim: space.index(special.one),
      indexDim: (i) => space.index(indexDirs[i]),
      outputDims: out.dims,
    },
    modelConfig,
  );
  return new CompiledProgram(program, opts, graph, schedule, layers, layout, modelConfig, weights);
}
