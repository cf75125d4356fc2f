/**
 * A small reader/writer for the safetensors format (https://huggingface.co/docs/safetensors):
 * 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__},
 * then the raw little-endian tensor bytes, contiguous and in header order.
 * No maintained npm package writes safetensors from Node (checked: `safetensors` on npm is an empty 0.0.1),
 * and the format is simple enough to own with tests.
 */
import { WraplabError } from './errors';

export type SafetensorsDtype = 'F32' | 'I32';
export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}
export interface SafetensorsFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, I32: 4 };
const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsError extends WraplabError {}

export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name];
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) throw new SafetensorsError(`${name}: shape [${t.shape}] needs ${size} values, got ${t.data.length}`);
    const bytes = size * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (as the reference implementation does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors[name];
    const src = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    src.copy(out, pos);
    pos += src.length;
  }
  return out;
}

export function decodeSafetensors(buf: Buffer, source = 'safetensors data'): SafetensorsFile {
  const fail = (why: string): never => {
    throw new SafetensorsError(`${source} is not a valid safetensors file: ${why}`);
  };
  if (buf.length < 8) fail('shorter than its 8-byte header length');
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, buf.length - 8))) fail(`header length ${n} exceeds the file`);
  const headerLen = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch {
    return fail('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not an object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const tensors: Record<string, SafeTensor> = {};
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32' && e.dtype !== 'I32') fail(`${name}: unsupported dtype ${String(e.dtype)}`);
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`${name}: bad shape`);
    const shape = e.shape as number[];
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) fail(`${name}: bad data_offsets`);
    const [s, t] = e.data_offsets as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    if (!(Number.isInteger(s) && Number.isInteger(t) && s >= 0 && t >= s && t <= dataLen)) fail(`${name}: data_offsets out of bounds`);
    if (t - s !== size * BYTES[dtype]) fail(`${name}: ${t - s} bytes do not hold shape [${shape}]`);
    spans.push([s, t, name]);
    // Copy into an aligned buffer: the slice of the file may sit at any byte offset.
    const bytes = new Uint8Array(t - s);
    bytes.set(buf.subarray(dataStart + s, dataStart + t));
    tensors[name] = { dtype, shape, data: dtype === 'F32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer) };
  }
  spans.sort((a, b) => a[0] - b[0]);
  let expect = 0;
  for (const [s, t, name] of spans) {
    if (s !== expect) fail(`${name}: tensors overlap or leave a hole at byte ${expect}`);
    expect = t;
  }
  if (expect !== dataLen) fail(`${dataLen - expect} trailing bytes after the last tensor (truncated or corrupt)`);
  return { tensors, metadata };
}
