/**
 * Row-major matrix reshuffles between HuggingFace's weight layouts and wraplab's (matrices [in, out], heads side by
 * side in the columns of W_Q/W_K/W_V). Each works on one tensor at a time, so loading never holds a second copy of
 * the model.
 */

/** [rows, cols] -> [cols, rows] (nn.Linear's [out, in] to wraplab's [in, out], and back). */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  if (data.length !== rows * cols) throw new Error(`transpose: ${data.length} values are not [${rows}, ${cols}]`);
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c];
  }
  return out;
}

/** Columns [start, start + width) of a [rows, cols] matrix. */
export function columns(data: Float32Array, rows: number, cols: number, start: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + start, r * cols + start + width), r * width);
  return out;
}

/** Matrices with the same row count, side by side: [rows, sum of widths]. */
export function concatColumns(parts: { data: Float32Array; cols: number }[], rows: number): Float32Array {
  const total = parts.reduce((n, p) => n + p.cols, 0);
  const out = new Float32Array(rows * total);
  let at = 0;
  for (const p of parts) {
    for (let r = 0; r < rows; r++) out.set(p.data.subarray(r * p.cols, (r + 1) * p.cols), r * total + at);
    at += p.cols;
  }
  return out;
}

/** Vectors end to end. */
export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * GPT-NeoX's fused query_key_value: output units ordered (head, {q, k, v}, dHead). `which` picks q (0), k (1) or v (2).
 * weight [3 H dHead, dModel] ([out, in]) -> wraplab W [dModel, H dHead]; bias [3 H dHead] -> [H dHead].
 */
export function unfuseHeadwiseQKV(weight: Float32Array, nHeads: number, dHead: number, dModel: number, which: 0 | 1 | 2): Float32Array {
  const out = new Float32Array(dModel * nHeads * dHead);
  const width = nHeads * dHead;
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < dHead; j++) {
      const row = (h * 3 + which) * dHead + j;
      const col = h * dHead + j;
      for (let i = 0; i < dModel; i++) out[i * width + col] = weight[row * dModel + i];
    }
  }
  return out;
}

export function unfuseHeadwiseBias(bias: Float32Array, nHeads: number, dHead: number, which: 0 | 1 | 2): Float32Array {
  const out = new Float32Array(nHeads * dHead);
  for (let h = 0; h < nHeads; h++) out.set(bias.subarray((h * 3 + which) * dHead, (h * 3 + which + 1) * dHead), h * dHead);
  return out;
}

/** The inverse of unfuseHeadwiseQKV: wraplab's W_Q, W_K, W_V [dModel, H dHead] -> the fused [3 H dHead, dModel]. */
export function fuseHeadwiseQKV(qkv: [Float32Array, Float32Array, Float32Array], nHeads: number, dHead: number, dModel: number): Float32Array {
  const width = nHeads * dHead;
  const out = new Float32Array(3 * width * dModel);
  for (let h = 0; h < nHeads; h++) {
    for (let which = 0; which < 3; which++) {
      const src = qkv[which];
      for (let j = 0; j < dHead; j++) {
        const row = (h * 3 + which) * dHead + j;
        const col = h * dHead + j;
        for (let i = 0; i < dModel; i++) out[row * dModel + i] = src[i * width + col];
      }
    }
  }
  return out;
}

export function fuseHeadwiseBias(parts: [Float32Array, Float32Array, Float32Array], nHeads: number, dHead: number): Float32Array {
  const out = new Float32Array(3 * nHeads * dHead);
  for (let h = 0; h < nHeads; h++) {
    for (let which = 0; which < 3; which++) out.set(parts[which].subarray(h * dHead, (h + 1) * dHead), (h * 3 + which) * dHead);
  }
  return out;
}
