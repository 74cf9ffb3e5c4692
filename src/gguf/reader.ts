/**
 * A small GGUF (v2/v3, little-endian) header reader that keeps every metadata value's exact type, so values can
 * be copied to another file unchanged. Only the header is read; tensor data is read on request.
 */

import { open } from "node:fs/promises";

import {
  GGUF_MAGIC,
  GgmlType,
  GgufValueType,
  alignUp,
  alignmentOf,
  GGML_TYPE_TRAITS,
  tensorByteSize,
  type GgufArrayValue,
  type GgufKv,
  type GgufValue,
} from "./types.js";

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: ne[0] first. */
  dims: number[];
  type: GgmlType;
  /** Offset from the start of the data section. */
  offset: number;
  /** Data size in bytes, or undefined for a type this module cannot size. */
  size: number | undefined;
}

export interface GgufFileInfo {
  version: number;
  metadata: GgufKv[];
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Bytes of the header before its padding. */
  headerSize: number;
  /** Offset of the data section in the file. */
  dataOffset: number;
}

/** Thrown when the parser needs more bytes than it was given. */
class NeedMoreBytes extends Error {}

/** Strict UTF-8 that keeps a leading U+FEFF (a real token in some vocabularies, e.g. Llama's 30143). */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Cursor {
  pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    /** Whether `buf` holds the whole file (a short read is then an error, not a reason to read more). */
    private readonly complete: boolean,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private take(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) {
      if (this.complete) throw new Error(`GGUF header truncated at byte ${at}`);
      throw new NeedMoreBytes();
    }
    this.pos = at + n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }
  i8(): number {
    return this.view.getInt8(this.take(1));
  }
  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  i16(): number {
    return this.view.getInt16(this.take(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.take(4), true);
  }
  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.take(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.take(8), true);
  }
  /** A uint64 that must fit a JS number exactly (counts, lengths, offsets). */
  size(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`GGUF ${what} too large: ${v}`);
    return Number(v);
  }
  str(): string {
    const n = this.size("string length");
    const at = this.take(n);
    try {
      return utf8.decode(this.buf.subarray(at, at + n));
    } catch {
      throw new Error(`GGUF string at byte ${at} is not valid UTF-8`);
    }
  }
}

function readScalar(c: Cursor, type: GgufValueType): number | bigint | boolean | string {
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8();
    case GgufValueType.INT8:
      return c.i8();
    case GgufValueType.UINT16:
      return c.u16();
    case GgufValueType.INT16:
      return c.i16();
    case GgufValueType.UINT32:
      return c.u32();
    case GgufValueType.INT32:
      return c.i32();
    case GgufValueType.FLOAT32:
      return c.f32();
    case GgufValueType.FLOAT64:
      return c.f64();
    case GgufValueType.UINT64:
      return c.u64();
    case GgufValueType.INT64:
      return c.i64();
    case GgufValueType.BOOL: {
      const b = c.u8();
      if (b > 1) throw new Error(`GGUF bool with value ${b}`);
      return b === 1;
    }
    case GgufValueType.STRING:
      return c.str();
    default:
      throw new Error(`unknown GGUF value type ${type}`);
  }
}

function readArray(c: Cursor): GgufArrayValue {
  const itemType = c.u32() as GgufValueType;
  const n = c.size("array length");
  if (itemType === GgufValueType.ARRAY) {
    const value: GgufArrayValue[] = [];
    for (let i = 0; i < n; i++) value.push(readArray(c));
    return { type: GgufValueType.ARRAY, itemType, value };
  }
  const value: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) value[i] = readScalar(c, itemType);
  // readScalar returns the JS type that matches itemType, so the array has the shape its item type promises
  return { type: GgufValueType.ARRAY, itemType, value } as GgufArrayValue;
}

function readValue(c: Cursor): GgufValue {
  const type = c.u32() as GgufValueType;
  if (type === GgufValueType.ARRAY) return readArray(c);
  return { type, value: readScalar(c, type) } as GgufValue;
}

/** Parses a GGUF header from the first bytes of a file. */
export function parseGgufHeader(buf: Uint8Array, complete = true): GgufFileInfo {
  const c = new Cursor(buf, complete);
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) throw new Error("not a GGUF file (bad magic)");
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new Error(`unsupported GGUF version ${version}`);
  const tensorCount = c.size("tensor count");
  const kvCount = c.size("KV count");

  const metadata: GgufKv[] = [];
  for (let i = 0; i < kvCount; i++) {
    const key = c.str();
    metadata.push({ key, value: readValue(c) });
  }

  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = c.str();
    const nDims = c.u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.size("dimension"));
    const type = c.u32() as GgmlType;
    const offset = c.size("tensor offset");
    const size = GGML_TYPE_TRAITS[type] !== undefined ? tensorByteSize(type, dims) : undefined;
    tensors.push({ name, dims, type, offset, size });
  }

  const alignment = alignmentOf(metadata);
  const headerSize = c.pos;
  return { version, metadata, tensors, alignment, headerSize, dataOffset: alignUp(headerSize, alignment) };
}

/** Reads the header of a GGUF file (reading only as much of the file as the header needs). */
export async function readGgufHeader(path: string): Promise<GgufFileInfo> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    let want = Math.min(size, 1 << 20);
    for (;;) {
      const buf = new Uint8Array(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      try {
        return parseGgufHeader(buf.subarray(0, bytesRead), bytesRead >= size);
      } catch (err) {
        if (!(err instanceof NeedMoreBytes)) throw err;
      }
      want = Math.min(size, want * 4);
    }
  } finally {
    await fh.close();
  }
}

/** The raw bytes of one tensor's data. */
export async function readTensorBytes(path: string, info: GgufFileInfo, name: string): Promise<Uint8Array> {
  const t = info.tensors.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no tensor ${name}`);
  if (t.size === undefined) throw new Error(`cannot size tensor ${name} of type ${t.type}`);
  const fh = await open(path, "r");
  try {
    const buf = new Uint8Array(t.size);
    const { bytesRead } = await fh.read(buf, 0, t.size, info.dataOffset + t.offset);
    if (bytesRead !== t.size) throw new Error(`tensor ${name} truncated`);
    return buf;
  } finally {
    await fh.close();
  }
}

/** The value of `key`, or undefined. */
export function getKv(metadata: readonly GgufKv[], key: string): GgufValue | undefined {
  return metadata.find((m) => m.key === key)?.value;
}
