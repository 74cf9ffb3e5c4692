/**
 * A GGUF v3 writer (little-endian): header, typed metadata KVs, tensor infos, aligned tensor data.
 *
 * Tensor data is streamed: each tensor's bytes are produced chunk by chunk (from values in memory, from a
 * callback that fills chunks of element values, or from already encoded bytes), so a file of any size is
 * written with a bounded amount of memory. The file is written to a temporary file in the destination folder
 * and renamed into place, so readers never see a partial file.
 *
 * Element values are encoded to the tensor's ggml type by an encoder from `TENSOR_ENCODERS` (F32, F16, Q8_0
 * and Q4_0); another quantized type is added by registering an encoder for whole blocks. Pre-encoded
 * bytes may have any type with known traits.
 */

import { createHash, randomBytes } from "node:crypto";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { basename, dirname, join } from "node:path";

import { f32ToF16Bits } from "./f16.js";
import {
  GGUF_MAGIC,
  GGUF_VERSION,
  GgmlType,
  GgufValueType,
  alignUp,
  alignmentOf,
  ggmlTypeTraits,
  tensorByteSize,
  tensorElementCount,
  type GgufArrayValue,
  type GgufKv,
  type GgufValue,
} from "./types.js";

/** ggml's limits (GGML_MAX_DIMS, GGML_MAX_NAME including the terminating NUL). */
export const GGML_MAX_DIMS = 4;
export const GGML_MAX_NAME = 64;

/** Where a tensor's data comes from. */
export type GgufTensorData =
  /** Element values in memory (row-major, ne[0] fastest), encoded to the tensor's type. */
  | { values: ArrayLike<number> }
  /**
   * Element values produced on demand: fill `out` with elements `start … start + out.length - 1`. Called with
   * consecutive ranges in order; `out.length` is a multiple of the type's block size.
   */
  | { fill: (out: Float32Array, start: number) => void }
  /** Data already encoded in the tensor's type. */
  | { bytes: Uint8Array }
  /** Data already encoded in the tensor's type, streamed; the chunks must add up to the tensor's byte size. */
  | { chunks: () => Iterable<Uint8Array> | AsyncIterable<Uint8Array> };

export interface GgufTensorSpec {
  name: string;
  /** Dimensions in GGUF/ggml order: ne[0] (the contiguous one) first. A [rows × cols] matrix is [cols, rows]. */
  dims: readonly number[];
  type: GgmlType;
  data: GgufTensorData;
}

/** Encodes whole blocks of element values to a ggml type. */
export interface TensorEncoder {
  /** Encode `src` (a multiple of the block size) into `dst` (exactly its encoded size). */
  encode(src: Float32Array, dst: Uint8Array): void;
}

const littleEndian = endianness() === "LE";

/** ggml's Q8_0 block size: 32 values share one F16 scale. */
const QK8_0 = 32;

/**
 * Q8_0 as llama.cpp's reference quantizer writes it (quantize_row_q8_0_ref): per block of 32, scale
 * d = max|x| / 127 stored as F16, then round(x / d) to int8 with halves away from zero, in float32 arithmetic.
 */
function encodeQ8_0(src: Float32Array, dst: Uint8Array): void {
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  for (let block = 0; block * QK8_0 < src.length; block++) {
    const values = src.subarray(block * QK8_0, (block + 1) * QK8_0);
    let amax = 0;
    for (const value of values) amax = Math.max(amax, Math.abs(value));
    const d = Math.fround(amax / 127);
    const inverse = d === 0 ? 0 : Math.fround(1 / d);
    const at = block * (2 + QK8_0);
    view.setUint16(at, f32ToF16Bits(d), true);
    for (let j = 0; j < QK8_0; j++) {
      const scaled = Math.fround(values[j]! * inverse);
      view.setInt8(at + 2 + j, Math.sign(scaled) * Math.round(Math.abs(scaled)));
    }
  }
}

/** ggml's Q4_0 block: 32 values share one F16 scale, two 4-bit quants per byte. */
const QK4_0 = 32;

/**
 * Q4_0 as llama.cpp's reference quantizer writes it (quantize_row_q4_0_ref): per block of 32, the value of
 * largest magnitude m (sign kept) gives d = m / -8 stored as F16; quant q = min(15, trunc(x / d + 8.5)); byte j
 * holds value j in its low nibble and value j + 16 in its high nibble.
 */
function encodeQ4_0(src: Float32Array, dst: Uint8Array): void {
  const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
  const half = QK4_0 / 2;
  for (let block = 0; block * QK4_0 < src.length; block++) {
    const values = src.subarray(block * QK4_0, (block + 1) * QK4_0);
    let amax = 0;
    let max = 0;
    for (const value of values) {
      if (Math.abs(value) > amax) {
        amax = Math.abs(value);
        max = value;
      }
    }
    const d = Math.fround(max / -8);
    const inverse = d === 0 ? 0 : Math.fround(1 / d);
    const at = block * (2 + half);
    view.setUint16(at, f32ToF16Bits(d), true);
    const quant = (x: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(x * inverse) + 8.5)));
    for (let j = 0; j < half; j++) view.setUint8(at + 2 + j, quant(values[j]!) | (quant(values[half + j]!) << 4));
  }
}

/** Encoders for the types that can be written from element values. Add quantized types here. */
export const TENSOR_ENCODERS: Partial<Record<GgmlType, TensorEncoder>> = {
  [GgmlType.Q8_0]: { encode: encodeQ8_0 },
  [GgmlType.Q4_0]: { encode: encodeQ4_0 },
  [GgmlType.F32]: {
    encode(src, dst) {
      if (littleEndian) {
        dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
        return;
      }
      const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
      for (let i = 0; i < src.length; i++) view.setFloat32(i * 4, src[i]!, true);
    },
  },
  [GgmlType.F16]: {
    encode(src, dst) {
      if (littleEndian && dst.byteOffset % 2 === 0) {
        const out = new Uint16Array(dst.buffer, dst.byteOffset, src.length);
        for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
        return;
      }
      const view = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
      for (let i = 0; i < src.length; i++) view.setUint16(i * 2, f32ToF16Bits(src[i]!), true);
    },
  },
};

export interface GgufTensorLayout {
  name: string;
  dims: readonly number[];
  type: GgmlType;
  /** Offset of the data from the start of the data section (a multiple of the alignment). */
  offset: number;
  size: number;
}

export interface GgufLayout {
  alignment: number;
  header: Uint8Array;
  /** Offset of the data section in the file (the header padded to the alignment). */
  dataOffset: number;
  tensors: GgufTensorLayout[];
  /** Total file size. */
  fileSize: number;
}

export interface GgufWriteOptions {
  /** Elements encoded per chunk for `values`/`fill` data (rounded to whole blocks); default 65536. */
  chunkElements?: number;
}

/** A UTF-16 surrogate without its pair: such a string has no UTF-8 encoding (it would be silently replaced). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Appends little-endian values to a growing buffer. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  /** Makes room for `n` bytes and returns where they start. Call it before reading `this.view`: it may replace it. */
  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < at + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length = at + n;
    return at;
  }

  u8(v: number): void {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.reserve(1);
    this.view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.reserve(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.reserve(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, v, true);
  }
  i64(v: bigint): void {
    const at = this.reserve(8);
    this.view.setBigInt64(at, v, true);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  /** A GGUF string: uint64 byte length, UTF-8 bytes, no terminator. */
  str(s: string): void {
    if (LONE_SURROGATE.test(s)) throw new TypeError(`string is not valid Unicode (lone surrogate): ${JSON.stringify(s)}`);
    const b = Buffer.from(s, "utf8");
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  zeros(n: number): void {
    this.reserve(n); // fresh bytes are zero: the buffer only grows and is never rewound
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT_RANGES: Partial<Record<GgufValueType, [number, number]>> = {
  [GgufValueType.UINT8]: [0, 0xff],
  [GgufValueType.INT8]: [-0x80, 0x7f],
  [GgufValueType.UINT16]: [0, 0xffff],
  [GgufValueType.INT16]: [-0x8000, 0x7fff],
  [GgufValueType.UINT32]: [0, 0xffffffff],
  [GgufValueType.INT32]: [-0x80000000, 0x7fffffff],
};

function checkNumber(type: GgufValueType, v: unknown, where: string): number {
  if (typeof v !== "number") throw new TypeError(`${where}: expected a number for ${GgufValueType[type]}, got ${typeof v}`);
  const range = INT_RANGES[type];
  if (range !== undefined && (!Number.isInteger(v) || v < range[0] || v > range[1])) {
    throw new RangeError(`${where}: ${v} is not a valid ${GgufValueType[type]}`);
  }
  return v;
}

function checkBigInt(type: GgufValueType, v: unknown, where: string): bigint {
  if (typeof v !== "bigint") throw new TypeError(`${where}: expected a bigint for ${GgufValueType[type]}, got ${typeof v}`);
  const ok = type === GgufValueType.UINT64 ? v >= 0n && v < 1n << 64n : v >= -(1n << 63n) && v < 1n << 63n;
  if (!ok) throw new RangeError(`${where}: ${v} is not a valid ${GgufValueType[type]}`);
  return v;
}

/** Writes one value of `type` (not ARRAY) without its type tag. */
function writeScalar(sink: ByteSink, type: GgufValueType, v: unknown, where: string): void {
  switch (type) {
    case GgufValueType.UINT8:
      return sink.u8(checkNumber(type, v, where));
    case GgufValueType.INT8:
      return sink.i8(checkNumber(type, v, where));
    case GgufValueType.UINT16:
      return sink.u16(checkNumber(type, v, where));
    case GgufValueType.INT16:
      return sink.i16(checkNumber(type, v, where));
    case GgufValueType.UINT32:
      return sink.u32(checkNumber(type, v, where));
    case GgufValueType.INT32:
      return sink.i32(checkNumber(type, v, where));
    case GgufValueType.FLOAT32:
      return sink.f32(checkNumber(type, v, where));
    case GgufValueType.FLOAT64:
      return sink.f64(checkNumber(type, v, where));
    case GgufValueType.UINT64:
      return sink.u64(checkBigInt(type, v, where));
    case GgufValueType.INT64:
      return sink.i64(checkBigInt(type, v, where));
    case GgufValueType.BOOL:
      if (typeof v !== "boolean") throw new TypeError(`${where}: expected a boolean, got ${typeof v}`);
      return sink.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof v !== "string") throw new TypeError(`${where}: expected a string, got ${typeof v}`);
      return sink.str(v);
    default:
      throw new TypeError(`${where}: unknown GGUF value type ${String(type)}`);
  }
}

function writeArrayBody(sink: ByteSink, arr: GgufArrayValue, where: string): void {
  sink.u32(arr.itemType);
  sink.u64(BigInt(arr.value.length));
  if (arr.itemType === GgufValueType.ARRAY) {
    arr.value.forEach((inner, i) => {
      if (inner.type !== GgufValueType.ARRAY) throw new TypeError(`${where}[${i}]: expected an array value`);
      writeArrayBody(sink, inner, `${where}[${i}]`);
    });
    return;
  }
  const items: readonly unknown[] = arr.value;
  for (let i = 0; i < items.length; i++) writeScalar(sink, arr.itemType, items[i], where);
}

function writeValue(sink: ByteSink, value: GgufValue, where: string): void {
  sink.u32(value.type);
  if (value.type === GgufValueType.ARRAY) writeArrayBody(sink, value, where);
  else writeScalar(sink, value.type, value.value, where);
}

/** The header (up to the data section, padding included) and the place of every tensor's data. */
export function layoutGguf(
  metadata: readonly GgufKv[],
  tensors: readonly Pick<GgufTensorSpec, "name" | "dims" | "type">[],
): GgufLayout {
  const alignment = alignmentOf(metadata);
  const keys = new Set<string>();
  for (const { key } of metadata) {
    if (keys.has(key)) throw new Error(`duplicate metadata key ${key}`);
    keys.add(key);
  }

  const layouts: GgufTensorLayout[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor name ${t.name}`);
    names.add(t.name);
    if (Buffer.byteLength(t.name, "utf8") >= GGML_MAX_NAME) throw new Error(`tensor name too long: ${t.name}`);
    if (t.dims.length < 1 || t.dims.length > GGML_MAX_DIMS) throw new Error(`${t.name}: 1 to ${GGML_MAX_DIMS} dims`);
    for (const d of t.dims) {
      if (!Number.isSafeInteger(d) || d < 1) throw new Error(`${t.name}: invalid dimension ${d}`);
    }
    const size = tensorByteSize(t.type, t.dims);
    layouts.push({ name: t.name, dims: [...t.dims], type: t.type, offset, size });
    offset = alignUp(offset + size, alignment);
  }

  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(BigInt(tensors.length));
  sink.u64(BigInt(metadata.length));
  for (const { key, value } of metadata) {
    sink.str(key);
    writeValue(sink, value, key);
  }
  for (const t of layouts) {
    sink.str(t.name);
    sink.u32(t.dims.length);
    for (const d of t.dims) sink.u64(BigInt(d));
    sink.u32(t.type);
    sink.u64(BigInt(t.offset));
  }
  const dataOffset = alignUp(sink.length, alignment);
  sink.zeros(dataOffset - sink.length);

  return { alignment, header: sink.result(), dataOffset, tensors: layouts, fileSize: dataOffset + offset };
}

/** Buffers writes to a file handle in large blocks. */
class FileSink {
  private readonly buf: Uint8Array;
  private used = 0;
  written = 0;
  /** sha256 of everything written, so that a multi-GB file need not be read back to be hashed. */
  readonly hash = createHash("sha256");

  constructor(
    private readonly fh: FileHandle,
    size = 1 << 20,
  ) {
    this.buf = new Uint8Array(size);
  }

  async write(b: Uint8Array): Promise<void> {
    this.written += b.length;
    this.hash.update(b);
    if (this.used + b.length > this.buf.length) await this.flush();
    if (b.length >= this.buf.length) {
      await writeAll(this.fh, b, b.length);
      return;
    }
    this.buf.set(b, this.used);
    this.used += b.length;
  }

  async zeros(n: number): Promise<void> {
    if (n > 0) await this.write(new Uint8Array(n));
  }

  async flush(): Promise<void> {
    await writeAll(this.fh, this.buf, this.used);
    this.used = 0;
  }
}

async function writeAll(fh: FileHandle, b: Uint8Array, length: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(b, done, length - done);
    done += bytesWritten;
  }
}

async function writeTensorData(
  out: FileSink,
  spec: GgufTensorSpec,
  layout: GgufTensorLayout,
  chunkElements: number,
): Promise<void> {
  const { data } = spec;
  const where = `tensor ${spec.name}`;
  if ("bytes" in data) {
    if (data.bytes.length !== layout.size) throw new Error(`${where}: ${data.bytes.length} bytes, expected ${layout.size}`);
    await out.write(data.bytes);
    return;
  }
  if ("chunks" in data) {
    let n = 0;
    for await (const chunk of data.chunks()) {
      n += chunk.length;
      if (n > layout.size) throw new Error(`${where}: more than the expected ${layout.size} bytes`);
      await out.write(chunk);
    }
    if (n !== layout.size) throw new Error(`${where}: ${n} bytes, expected ${layout.size}`);
    return;
  }

  const encoder = TENSOR_ENCODERS[spec.type];
  if (encoder === undefined) throw new Error(`${where}: no encoder for ${GgmlType[spec.type]}; pass encoded bytes`);
  const { blockSize, typeSize } = ggmlTypeTraits(spec.type);
  const total = tensorElementCount(spec.dims);
  if ("values" in data && data.values.length !== total) {
    throw new Error(`${where}: ${data.values.length} values, expected ${total}`);
  }
  const perChunk = Math.max(blockSize, Math.floor(chunkElements / blockSize) * blockSize);
  const src = new Float32Array(Math.min(perChunk, total));
  const dst = new Uint8Array((src.length / blockSize) * typeSize);
  for (let start = 0; start < total; start += perChunk) {
    const n = Math.min(perChunk, total - start);
    const chunk = n === src.length ? src : src.subarray(0, n);
    if ("values" in data) {
      for (let i = 0; i < n; i++) chunk[i] = data.values[start + i]!;
    } else {
      data.fill(chunk, start);
    }
    const bytes = n === src.length ? dst : dst.subarray(0, (n / blockSize) * typeSize);
    encoder.encode(chunk, bytes);
    await out.write(bytes);
  }
}

export interface GgufWriteResult {
  path: string;
  alignment: number;
  dataOffset: number;
  tensors: GgufTensorLayout[];
  fileSize: number;
  sha256: string;
}

/**
 * Writes a GGUF v3 file at `path` atomically (a temporary file in the same folder, renamed into place).
 * KVs and tensors are written in the given order; each tensor's data is aligned to the file's alignment
 * (`general.alignment` or 32) and followed by padding to it.
 */
export async function writeGguf(
  path: string,
  metadata: readonly GgufKv[],
  tensors: readonly GgufTensorSpec[],
  options: GgufWriteOptions = {},
): Promise<GgufWriteResult> {
  const layout = layoutGguf(metadata, tensors);
  const chunkElements = options.chunkElements ?? 1 << 16;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx");
  let ok = false;
  let sha256 = "";
  try {
    const out = new FileSink(fh);
    await out.write(layout.header);
    for (let i = 0; i < tensors.length; i++) {
      const t = layout.tensors[i]!;
      await writeTensorData(out, tensors[i]!, t, chunkElements);
      await out.zeros(alignUp(t.size, layout.alignment) - t.size);
    }
    await out.flush();
    if (out.written !== layout.fileSize) throw new Error(`wrote ${out.written} bytes, expected ${layout.fileSize}`);
    sha256 = out.hash.digest("hex");
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => undefined);
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return { path, alignment: layout.alignment, dataOffset: layout.dataOffset, tensors: layout.tensors, fileSize: layout.fileSize, sha256 };
}
