/**
 * Stage 4: layer allocation. The model is a sequence of half-layers A0 M0 A1 M1 ... (attention, then MLP,
 * per layer). Each S-Op's block goes into the earliest half-layer of its kind that comes after every
 * half-layer its inputs are written in (as soon as possible). A SelectorWidth needs an attention and
 * the MLP right after it (A_k then M_k). Blocks that land in the same half-layer run in parallel:
 * several heads, or MLPs side by side.
 *
 * For the paper's programs this gives Tracr's layouts: Counter = M0 | A1 M1 | A2, Max-identifier =
 * A0 M0 | M1 | A2 (3 layers each).
 */

export type BlockKind = 'attn' | 'mlp' | 'attn+mlp';

export interface ScheduleNode {
  label: string;
  kind: BlockKind;
  /** Labels of the S-Ops it reads (primitives tokens/indices count as written before A0). */
  deps: string[];
}

export interface Placement {
  /** Layer of the attention half (attn and attn+mlp nodes). */
  attnLayer?: number;
  /** Layer of the MLP half (mlp and attn+mlp nodes). */
  mlpLayer?: number;
  /** Half-layer index after which the S-Op's value is in the residual (2*layer for attention, 2*layer+1 for MLP). */
  readySlot: number;
}

export interface Schedule {
  nLayers: number;
  placements: Map<string, Placement>;
}

/** Nodes must come in topological order (inputs first). */
export function scheduleNodes(nodes: readonly ScheduleNode[]): Schedule {
  const ready = new Map<string, number>();
  const placements = new Map<string, Placement>();
  let lastSlot = -1;
  for (const node of nodes) {
    const after = Math.max(-1, ...node.deps.map((d) => ready.get(d) ?? -1));
    let placement: Placement;
    if (node.kind === 'mlp') {
      const slot = firstSlotOfParity(after + 1, 1);
      placement = { mlpLayer: (slot - 1) / 2, readySlot: slot };
    } else {
      const slot = firstSlotOfParity(after + 1, 0);
      placement = node.kind === 'attn' ? { attnLayer: slot / 2, readySlot: slot } : { attnLayer: slot / 2, mlpLayer: slot / 2, readySlot: slot + 1 };
    }
    placements.set(node.label, placement);
    ready.set(node.label, placement.readySlot);
    lastSlot = Math.max(lastSlot, placement.readySlot);
  }
  return { nLayers: Math.max(1, Math.floor(lastSlot / 2) + 1), placements };
}

/** Smallest slot >= from with slot % 2 === parity (0: attention, 1: MLP). */
function firstSlotOfParity(from: number, parity: 0 | 1): number {
  return from % 2 === parity ? from : from + 1;
}
