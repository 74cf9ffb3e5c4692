/**
 * GGUF format constants and the typed metadata model shared by the writer and the reader.
 *
 * Reference: the GGUF specification (ggml `docs/gguf.md`), version 3, little-endian. Metadata values keep their
 * exact GGUF type, so that a value read from one file is written to another unchanged (e.g. `tokenizer.*`).
 */

/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
/** Tensor data alignment when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_ALIGNMENT_KEY = "general.alignment";

/** The type tags of metadata values (gguf_metadata_value_type). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Value types whose values are JS numbers. */
export type GgufNumberType =
  | GgufValueType.UINT8
  | GgufValueType.INT8
  | GgufValueType.UINT16
  | GgufValueType.INT16
  | GgufValueType.UINT32
  | GgufValueType.INT32
  | GgufValueType.FLOAT32
  | GgufValueType.FLOAT64;
/** Value types whose values are JS bigints (64-bit integers do not fit a number exactly). */
export type GgufBigIntType = GgufValueType.UINT64 | GgufValueType.INT64;

export interface GgufNumberValue {
  type: GgufNumberType;
  value: number;
}
export interface GgufBigIntValue {
  type: GgufBigIntType;
  value: bigint;
}
export interface GgufBoolValue {
  type: GgufValueType.BOOL;
  value: boolean;
}
export interface GgufStringValue {
  type: GgufValueType.STRING;
  value: string;
}
/**
 * An array: every element has `itemType`. Arrays of arrays are allowed by the format; each inner array then
 * carries its own item type.
 */
export type GgufArrayValue =
  | { type: GgufValueType.ARRAY; itemType: GgufNumberType; value: readonly number[] }
  | { type: GgufValueType.ARRAY; itemType: GgufBigIntType; value: readonly bigint[] }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.BOOL; value: readonly boolean[] }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.STRING; value: readonly string[] }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.ARRAY; value: readonly GgufArrayValue[] };

export type GgufValue = GgufNumberValue | GgufBigIntValue | GgufBoolValue | GgufStringValue | GgufArrayValue;

/** One metadata key/value pair. Files keep their KVs in order, so metadata is a list. */
export interface GgufKv {
  key: string;
  value: GgufValue;
}

/** Tensor element types (ggml_type). Only those with `GGML_TYPE_TRAITS` entries can be sized. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
}

/** Storage layout of a tensor type: `blockSize` elements are stored in `typeSize` bytes. */
export interface GgmlTypeTraits {
  blockSize: number;
  typeSize: number;
}

/** Layouts of the types this module can size (ggml.c type_traits). */
export const GGML_TYPE_TRAITS: Readonly<Partial<Record<GgmlType, GgmlTypeTraits>>> = {
  [GgmlType.F32]: { blockSize: 1, typeSize: 4 },
  [GgmlType.F16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.BF16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.F64]: { blockSize: 1, typeSize: 8 },
  [GgmlType.I8]: { blockSize: 1, typeSize: 1 },
  [GgmlType.I16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.I32]: { blockSize: 1, typeSize: 4 },
  [GgmlType.I64]: { blockSize: 1, typeSize: 8 },
  [GgmlType.Q4_0]: { blockSize: 32, typeSize: 2 + 16 },
  [GgmlType.Q4_1]: { blockSize: 32, typeSize: 2 + 2 + 16 },
  [GgmlType.Q5_0]: { blockSize: 32, typeSize: 2 + 4 + 16 },
  [GgmlType.Q5_1]: { blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  [GgmlType.Q8_0]: { blockSize: 32, typeSize: 2 + 32 },
  [GgmlType.Q2_K]: { blockSize: 256, typeSize: 84 },
  [GgmlType.Q3_K]: { blockSize: 256, typeSize: 110 },
  [GgmlType.Q4_K]: { blockSize: 256, typeSize: 144 },
  [GgmlType.Q5_K]: { blockSize: 256, typeSize: 176 },
  [GgmlType.Q6_K]: { blockSize: 256, typeSize: 210 },
  [GgmlType.Q8_K]: { blockSize: 256, typeSize: 292 },
};

export function ggmlTypeTraits(type: GgmlType): GgmlTypeTraits {
  const traits = GGML_TYPE_TRAITS[type];
  if (traits === undefined) throw new Error(`unsupported ggml type ${type} (${GgmlType[type] ?? "unknown"})`);
  return traits;
}

/** Number of elements of a tensor with these dims (GGUF order, ne[0] first). */
export function tensorElementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/**
 * Bytes of a tensor's data. ggml stores blocks along ne[0], so ne[0] must be a multiple of the block size.
 */
export function tensorByteSize(type: GgmlType, dims: readonly number[]): number {
  const { blockSize, typeSize } = ggmlTypeTraits(type);
  const ne0 = dims[0] ?? 1;
  if (ne0 % blockSize !== 0) {
    throw new Error(`ne[0]=${ne0} is not a multiple of the block size ${blockSize} of ${GgmlType[type]}`);
  }
  return (tensorElementCount(dims) / blockSize) * typeSize;
}

/** `n` rounded up to a multiple of `alignment`. */
export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** The alignment a file with these KVs uses: `general.alignment` (a uint32 power of two) or 32. */
export function alignmentOf(metadata: readonly GgufKv[]): number {
  const entry = metadata.find((m) => m.key === GGUF_ALIGNMENT_KEY);
  if (entry === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const { value } = entry;
  if (value.type !== GgufValueType.UINT32) throw new TypeError(`${GGUF_ALIGNMENT_KEY} must be a UINT32`);
  const a = value.value;
  if (!Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
    throw new RangeError(`${GGUF_ALIGNMENT_KEY} must be a power of two, got ${a}`);
  }
  return a;
}

/** Constructors for typed metadata values, e.g. `kv("llama.block_count", gguf.u32(2))`. */
export const gguf = {
  u8: (value: number): GgufNumberValue => ({ type: GgufValueType.UINT8, value }),
  i8: (value: number): GgufNumberValue => ({ type: GgufValueType.INT8, value }),
  u16: (value: number): GgufNumberValue => ({ type: GgufValueType.UINT16, value }),
  i16: (value: number): GgufNumberValue => ({ type: GgufValueType.INT16, value }),
  u32: (value: number): GgufNumberValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufNumberValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufNumberValue => ({ type: GgufValueType.FLOAT32, value }),
  f64: (value: number): GgufNumberValue => ({ type: GgufValueType.FLOAT64, value }),
  u64: (value: bigint | number): GgufBigIntValue => ({ type: GgufValueType.UINT64, value: BigInt(value) }),
  i64: (value: bigint | number): GgufBigIntValue => ({ type: GgufValueType.INT64, value: BigInt(value) }),
  bool: (value: boolean): GgufBoolValue => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufStringValue => ({ type: GgufValueType.STRING, value }),
  /** An array of numbers of one number type, e.g. `gguf.numbers(GgufValueType.FLOAT32, scores)`. */
  numbers: (itemType: GgufNumberType, value: readonly number[]): GgufArrayValue => ({
    type: GgufValueType.ARRAY,
    itemType,
    value,
  }),
  bigints: (itemType: GgufBigIntType, value: readonly bigint[]): GgufArrayValue => ({
    type: GgufValueType.ARRAY,
    itemType,
    value,
  }),
  bools: (value: readonly boolean[]): GgufArrayValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.BOOL, value }),
  strs: (value: readonly string[]): GgufArrayValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value }),
  arrays: (value: readonly GgufArrayValue[]): GgufArrayValue => ({
    type: GgufValueType.ARRAY,
    itemType: GgufValueType.ARRAY,
    value,
  }),
};

export function kv(key: string, value: GgufValue): GgufKv {
  return { key, value };
}
