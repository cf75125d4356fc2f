/**
 * A small reader/writer for the safetensors format (https://huggingface.co/docs/safetensors):
 * 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__},
 * then the raw little-endian tensor bytes, contiguous and in header order.
 * No maintained npm package writes safetensors from Node (checked: `safetensors` on npm is an empty 0.0.1),
 * and the format is simple enough to own with tests.
 */
import * as fs from 'node:fs';
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
  if (buf.length < 8) throw new SafetensorsError(`${source} is not a valid safetensors file: shorter than its 8-byte header length`);
  const header = parseSafetensorsHeader(buf.subarray(0, 8 + headerLength(buf, buf.length, source)), buf.length, source);
  const tensors: Record<string, SafeTensor> = {};
  for (const e of header.entries.values()) {
    if (e.dtype !== 'F32' && e.dtype !== 'I32') throw new SafetensorsError(`${source} is not a valid safetensors file: ${e.name}: unsupported dtype ${e.dtype}`);
    // Copy into an aligned buffer: the slice of the file may sit at any byte offset.
    const bytes = new Uint8Array(e.end - e.start);
    bytes.set(buf.subarray(e.start, e.end));
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: e.dtype === 'F32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer) };
  }
  return { tensors, metadata: header.metadata };
}

/** Bytes per element of every dtype the format defines. */
export const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
/** Floating dtypes read into float32 (F16/BF16 exactly; real checkpoints ship Pythia in F16, SmolLM in BF16). */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** One tensor's place in a file: absolute byte range [start, end). */
export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  start: number;
  end: number;
}
export interface SafetensorsHeader {
  entries: Map<string, TensorEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section. */
  dataStart: number;
}

function headerLength(head: Buffer, fileSize: number, source: string): number {
  const n = head.readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, fileSize - 8))) {
    throw new SafetensorsError(`${source} is not a valid safetensors file: header length ${n} exceeds the file (truncated or not safetensors)`);
  }
  return Number(n);
}

/**
 * Checks a header as untrusted input before anything is allocated: known dtypes, integer shapes, byte ranges that
 * hold their shapes and tile the data section exactly (a truncated download leaves a gap at the end).
 * `head` holds the 8 length bytes and the JSON header; `fileSize` is the whole file's size.
 */
export function parseSafetensorsHeader(head: Buffer, fileSize: number, source: string): SafetensorsHeader {
  const fail = (why: string): never => {
    throw new SafetensorsError(`${source} is not a valid safetensors file: ${why}`);
  };
  const headerLen = headerLength(head, fileSize, source);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(head.subarray(8, 8 + headerLen).toString('utf8'));
  } catch {
    return fail('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not an object');
  const dataStart = 8 + headerLen;
  const dataLen = fileSize - dataStart;
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const width = typeof e.dtype === 'string' ? DTYPE_BYTES[e.dtype] : undefined;
    if (!width) fail(`${name}: unknown dtype ${String(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`${name}: bad shape`);
    const shape = e.shape as number[];
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) fail(`${name}: bad data_offsets`);
    const [s, t] = e.data_offsets as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    if (!(Number.isInteger(s) && Number.isInteger(t) && s >= 0 && t >= s)) fail(`${name}: bad data_offsets`);
    if (t > dataLen) fail(`${name}: its bytes end at ${t} but the data section holds ${dataLen} (the file is truncated)`);
    if (t - s !== size * width!) fail(`${name}: ${t - s} bytes do not hold shape [${shape}] of ${e.dtype}`);
    spans.push([s, t, name]);
    entries.set(name, { name, dtype: e.dtype as string, shape, start: dataStart + s, end: dataStart + t });
  }
  spans.sort((a, b) => a[0] - b[0]);
  let expect = 0;
  for (const [s, t, name] of spans) {
    if (s !== expect) fail(`${name}: tensors overlap or leave a hole at byte ${expect}`);
    expect = t;
  }
  if (expect !== dataLen) fail(`${dataLen - expect} trailing bytes after the last tensor (truncated or corrupt)`);
  return { entries, metadata, dataStart };
}

/** A safetensors file opened for reading tensor by tensor: only the header is read up front. */
export class SafetensorsReader {
  readonly header: SafetensorsHeader;
  private fd: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(this.fd).size;
      if (size < 8) throw new SafetensorsError(`${file} is not a valid safetensors file: shorter than its 8-byte header length (truncated)`);
      const lenBytes = this.read(0, 8);
      const n = headerLength(lenBytes, size, file);
      this.header = parseSafetensorsHeader(Buffer.concat([lenBytes, this.read(8, n)]), size, file);
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
  }

  /** The tensor's values as float32 (F16 and BF16 widened exactly). */
  float32(name: string): Float32Array {
    const e = this.header.entries.get(name);
    if (!e) throw new SafetensorsError(`${this.file} holds no tensor ${name}`);
    if (!(FLOAT_DTYPES as readonly string[]).includes(e.dtype)) {
      throw new SafetensorsError(`${this.file}: ${name} is ${e.dtype}; wraplab reads weights stored as ${FLOAT_DTYPES.join(', ')} (convert the checkpoint to one of them, e.g. torch_dtype=float32)`);
    }
    return toFloat32(e.dtype as (typeof FLOAT_DTYPES)[number], this.read(e.start, e.end - e.start));
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private read(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const got = fs.readSync(this.fd, buf, done, length - done, position + done);
      if (got === 0) throw new SafetensorsError(`${this.file} ended early (truncated)`);
      done += got;
    }
    return buf;
  }
}

let halfTable: Float32Array | null = null;

/** Little-endian F32/F16/BF16 bytes to float32. */
export function toFloat32(dtype: (typeof FLOAT_DTYPES)[number], bytes: Buffer): Float32Array {
  if (dtype === 'F32') {
    const out = new Float32Array(bytes.length / 4);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const n = bytes.length / 2;
  const half = new Uint16Array(n);
  new Uint8Array(half.buffer).set(bytes);
  const out = new Float32Array(n);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = half[i] << 16;
    return out;
  }
  const table = (halfTable ??= halfToFloatTable());
  for (let i = 0; i < n; i++) out[i] = table[half[i]];
  return out;
}

/** float32 to F16/BF16 bytes, rounding to nearest even (as torch's .half() / .bfloat16()). */
export function fromFloat32(dtype: (typeof FLOAT_DTYPES)[number], values: Float32Array): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) out[i] = dtype === 'BF16' ? bf16Bits(bits[i]) : f16Bits(bits[i]);
  return Buffer.from(out.buffer);
}

function bf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (e <= 0) {
    if (e < -10) return sign; // underflows to (signed) zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

function halfToFloatTable(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return t;
}

/** One tensor to write: its values are asked for only when its turn comes, so a file is written one tensor at a time. */
export interface TensorToWrite {
  name: string;
  dtype: (typeof FLOAT_DTYPES)[number];
  shape: number[];
  values: () => Float32Array;
}

/** Bytes a set of tensors takes in a file's data section. */
export function dataBytes(tensors: readonly Pick<TensorToWrite, 'dtype' | 'shape'>[]): number {
  return tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype], 0);
}

/**
 * Writes a safetensors file tensor by tensor (never the whole file in memory), F32/F16/BF16, in the given order.
 * The caller writes to a temporary path and renames it (see savePretrained), so a crash leaves no half file.
 */
export function writeSafetensorsFile(file: string, tensors: readonly TensorToWrite[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = dataBytes([t]);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, head);
    fs.writeSync(fd, Buffer.from(json, 'utf8'));
    for (const t of tensors) {
      const values = t.values();
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (values.length !== size) throw new SafetensorsError(`${t.name}: shape [${t.shape}] needs ${size} values, got ${values.length}`);
      const bytes = fromFloat32(t.dtype, values);
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
