import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { f16BitsToF32, f32ToF16Bits, roundToF16 } from "../../src/gguf/f16.js";
import { Random } from "../../src/util/random.js";
import { parseGgufHeader, readGgufHeader, readTensorBytes } from "../../src/gguf/reader.js";
import { GGUF_MAGIC, GgmlType, GgufValueType, gguf, kv, type GgufKv } from "../../src/gguf/types.js";
import { TENSOR_ENCODERS, layoutGguf, writeGguf, type GgufTensorSpec } from "../../src/gguf/writer.js";
import { removeDir, tempDir } from "./helpers.js";

let dir: string;
before(async () => {
  dir = await tempDir();
});
after(() => removeDir(dir));

/** One KV of every value type, extremes included, and arrays of every item type. */
const ALL_TYPES: GgufKv[] = [
  kv("t.u8", gguf.u8(255)),
  kv("t.i8", gguf.i8(-128)),
  kv("t.u16", gguf.u16(65535)),
  kv("t.i16", gguf.i16(-32768)),
  kv("t.u32", gguf.u32(0xffffffff)),
  kv("t.i32", gguf.i32(-0x80000000)),
  kv("t.f32", gguf.f32(Math.fround(1e-5))),
  kv("t.f64", gguf.f64(Math.PI)),
  kv("t.u64", gguf.u64((1n << 64n) - 1n)),
  kv("t.i64", gguf.i64(-(1n << 63n))),
  kv("t.bool_true", gguf.bool(true)),
  kv("t.bool_false", gguf.bool(false)),
  kv("t.str", gguf.str("héllo, 世界 🦙")),
  kv("t.str_empty", gguf.str("")),
  kv("t.str_bom", gguf.str("\uFEFF")), // a leading BOM is content (Llama's token 30143), not a marker
  kv("t.a_u8", gguf.numbers(GgufValueType.UINT8, [0, 1, 255])),
  kv("t.a_i8", gguf.numbers(GgufValueType.INT8, [-128, 0, 127])),
  kv("t.a_u16", gguf.numbers(GgufValueType.UINT16, [0, 65535])),
  kv("t.a_i16", gguf.numbers(GgufValueType.INT16, [-32768, 32767])),
  kv("t.a_u32", gguf.numbers(GgufValueType.UINT32, [0, 0xffffffff])),
  kv("t.a_i32", gguf.numbers(GgufValueType.INT32, [-1, 2, 3])),
  kv("t.a_f32", gguf.numbers(GgufValueType.FLOAT32, [0, -0.5, Math.fround(0.1), Infinity])),
  kv("t.a_f64", gguf.numbers(GgufValueType.FLOAT64, [0.1, -1e300])),
  kv("t.a_u64", gguf.bigints(GgufValueType.UINT64, [0n, 1n << 40n])),
  kv("t.a_i64", gguf.bigints(GgufValueType.INT64, [-5n, 1n << 62n])),
  kv("t.a_bool", gguf.bools([true, false, true])),
  kv("t.a_str", gguf.strs(["a", "", "\uFEFFb", "▁the"])),
  kv("t.a_empty", gguf.strs([])),
  kv("t.a_nested", gguf.arrays([gguf.strs(["x", "y"]), gguf.numbers(GgufValueType.INT32, [7]), gguf.arrays([])])),
];

function f32Values(n: number, seed: number): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}

function sampleTensors(): { specs: GgufTensorSpec[]; values: Map<string, Float32Array> } {
  const a = f32Values(3 * 5, 1);
  const b = f32Values(64 * 7, 2);
  const c = f32Values(2 * 3 * 4, 3);
  const d = f32Values(33, 4);
  const dBytes = new Uint8Array(d.buffer.slice(0)); // F32 bytes, little-endian on the machines we support
  const values = new Map([
    ["a", a],
    ["b", b],
    ["c", c],
    ["d", d],
  ]);
  const specs: GgufTensorSpec[] = [
    { name: "a", dims: [3, 5], type: GgmlType.F32, data: { values: Array.from(a) } },
    { name: "b", dims: [64, 7], type: GgmlType.F16, data: { fill: (out, start) => out.set(b.subarray(start, start + out.length)) } },
    { name: "c", dims: [2, 3, 4], type: GgmlType.F16, data: { values: c } },
    {
      name: "d",
      dims: [33],
      type: GgmlType.F32,
      data: {
        *chunks() {
          yield dBytes.subarray(0, 5);
          yield dBytes.subarray(5);
        },
      },
    },
    { name: "e", dims: [1], type: GgmlType.F32, data: { bytes: new Uint8Array(new Float32Array([42]).buffer) } },
  ];
  return { specs, values };
}

function decode(bytes: Uint8Array, type: GgmlType): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  if (type === GgmlType.F32) for (let i = 0; i < bytes.length; i += 4) out.push(view.getFloat32(i, true));
  else for (let i = 0; i < bytes.length; i += 2) out.push(f16BitsToF32(view.getUint16(i, true)));
  return out;
}

for (const alignment of [undefined, 64, 8]) {
  test(`round-trips all value types and tensors (alignment ${alignment ?? "default"})`, async () => {
    const path = join(dir, `all-${alignment ?? "default"}.gguf`);
    const metadata = alignment === undefined ? ALL_TYPES : [kv("general.alignment", gguf.u32(alignment)), ...ALL_TYPES];
    const { specs, values } = sampleTensors();
    const written = await writeGguf(path, metadata, specs, { chunkElements: 40 });

    const info = await readGgufHeader(path);
    const align = alignment ?? 32;
    assert.equal(info.version, 3);
    assert.equal(info.alignment, align);
    assert.deepEqual(info.metadata, metadata);
    assert.equal(info.dataOffset % align, 0);
    assert.equal(info.dataOffset, written.dataOffset);
    assert.ok(info.dataOffset - info.headerSize < align);
    assert.equal((await stat(path)).size, written.fileSize);
    assert.equal(written.fileSize % align, 0);

    const raw = await readFile(path);
    assert.equal(raw.readUInt32LE(0), GGUF_MAGIC);
    assert.equal(raw.subarray(0, 4).toString("latin1"), "GGUF");
    assert.ok(raw.subarray(info.headerSize, info.dataOffset).every((x) => x === 0), "header padding is zeros");

    assert.deepEqual(
      info.tensors.map((t) => [t.name, t.dims, t.type, t.offset, t.size]),
      written.tensors.map((t) => [t.name, t.dims, t.type, t.offset, t.size]),
    );
    let end = 0;
    for (const t of info.tensors) {
      assert.equal(t.offset % align, 0, `${t.name} offset is aligned`);
      assert.ok(t.offset >= end, `${t.name} does not overlap the previous tensor`);
      assert.ok(t.offset - end < align, `${t.name} follows the previous tensor`);
      end = t.offset + t.size!;
      assert.ok(raw.subarray(info.dataOffset + end, info.dataOffset + t.offset + Math.ceil(t.size! / align) * align).every((x) => x === 0));
    }
    assert.deepEqual(
      info.tensors.map((t) => t.size),
      [60, 896, 48, 132, 4],
    );

    for (const t of info.tensors) {
      const got = decode(await readTensorBytes(path, info, t.name), t.type);
      if (t.name === "e") {
        assert.deepEqual(got, [42]);
        continue;
      }
      const want = Array.from(values.get(t.name)!, (v) => (t.type === GgmlType.F16 ? roundToF16(v) : v));
      assert.deepEqual(got, want, t.name);
    }
  });
}

test("header bytes are laid out as the GGUF spec says", () => {
  const { header, dataOffset, tensors } = layoutGguf(
    [kv("k", gguf.u8(7))],
    [{ name: "w", dims: [2, 3], type: GgmlType.F16 }],
  );
  const expected = Buffer.concat([
    Buffer.from("GGUF", "latin1"),
    Buffer.from([3, 0, 0, 0]), // version
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // tensor count
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // kv count
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from("k"),
    Buffer.from([0, 0, 0, 0]), // UINT8
    Buffer.from([7]),
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from("w"),
    Buffer.from([2, 0, 0, 0]), // n_dims
    Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from([1, 0, 0, 0]), // F16
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), // offset
  ]);
  assert.equal(dataOffset, 96);
  assert.deepEqual(Buffer.from(header.subarray(0, expected.length)), expected);
  assert.equal(header.length, 96);
  assert.deepEqual(tensors, [{ name: "w", dims: [2, 3], type: GgmlType.F16, offset: 0, size: 12 }]);
});

test("the bytes do not depend on the chunk size", async () => {
  const a = join(dir, "chunk-a.gguf");
  const b = join(dir, "chunk-b.gguf");
  await writeGguf(a, ALL_TYPES, sampleTensors().specs, { chunkElements: 1 });
  await writeGguf(b, ALL_TYPES, sampleTensors().specs, { chunkElements: 1 << 20 });
  assert.deepEqual(await readFile(a), await readFile(b));
});

test("rejects invalid values and tensors without leaving files behind", async () => {
  const path = join(dir, "bad.gguf");
  const t = (data: GgufTensorSpec["data"], type = GgmlType.F32, dims = [4]): GgufTensorSpec[] => [{ name: "x", dims, type, data }];
  await assert.rejects(writeGguf(path, [kv("x", gguf.u8(256))], []), RangeError);
  await assert.rejects(writeGguf(path, [kv("x", gguf.i32(1.5))], []), RangeError);
  await assert.rejects(writeGguf(path, [kv("x", gguf.u64(-1n))], []), RangeError);
  await assert.rejects(writeGguf(path, [kv("x", gguf.numbers(GgufValueType.UINT16, [1, -1]))], []), RangeError);
  await assert.rejects(writeGguf(path, [kv("x", gguf.str("\uD800"))], []), TypeError);
  await assert.rejects(writeGguf(path, [kv("x", gguf.u8(1)), kv("x", gguf.u8(2))], []), /duplicate metadata key/);
  await assert.rejects(writeGguf(path, [kv("general.alignment", gguf.u32(24))], []), /power of two/);
  await assert.rejects(writeGguf(path, [kv("general.alignment", gguf.u64(32))], []), /UINT32/);
  await assert.rejects(writeGguf(path, [], t({ values: [1, 2, 3] })), /3 values, expected 4/);
  await assert.rejects(writeGguf(path, [], t({ bytes: new Uint8Array(15) })), /15 bytes, expected 16/);
  await assert.rejects(writeGguf(path, [], t({ bytes: new Uint8Array(34) }, GgmlType.Q8_0, [33])), /multiple of the block size/);
  await assert.rejects(writeGguf(path, [], t({ values: new Float32Array(32) }, GgmlType.Q5_0, [32])), /no encoder/);
  await assert.rejects(
    writeGguf(path, [], t({ fill: () => { throw new Error("generator failed"); } })),
    /generator failed/,
  );
  await assert.rejects(writeGguf(path, [], [...t({ values: [1, 2, 3, 4] }), ...t({ values: [1, 2, 3, 4] })]), /duplicate tensor/);
  assert.equal(existsSync(path), false);
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes("bad.gguf")), [], "no temporary files left");
});

test("an existing file is replaced atomically", async () => {
  const path = join(dir, "replace.gguf");
  await writeGguf(path, [kv("v", gguf.u32(1))], []);
  await assert.rejects(writeGguf(path, [kv("v", gguf.u32(2))], [{ name: "x", dims: [1], type: GgmlType.F32, data: { values: [] } }]));
  assert.deepEqual((await readGgufHeader(path)).metadata, [kv("v", gguf.u32(1))], "a failed write keeps the old file");
  await writeGguf(path, [kv("v", gguf.u32(2))], []);
  assert.deepEqual((await readGgufHeader(path)).metadata, [kv("v", gguf.u32(2))]);
});

test("the reader asks for more bytes only when the prefix is short", () => {
  const { header } = layoutGguf(ALL_TYPES, []);
  assert.deepEqual(parseGgufHeader(header).metadata, ALL_TYPES);
  assert.throws(() => parseGgufHeader(header.subarray(0, 100)), /truncated/);
  assert.throws(() => parseGgufHeader(new Uint8Array(16)), /bad magic/);
});

test("f16: every half round-trips and ties round to even", () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = f16BitsToF32(h);
    if (Number.isNaN(v)) {
      assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(v))));
      continue;
    }
    assert.equal(f32ToF16Bits(v), h, `half 0x${h.toString(16)}`);
  }
  // between consecutive positive finite halves: the midpoint goes to the even one, anything else to the nearest
  for (let h = 0; h < 0x7bff; h++) {
    const lo = f16BitsToF32(h);
    const hi = f16BitsToF32(h + 1);
    const mid = (lo + hi) / 2;
    assert.equal(f32ToF16Bits(mid), h % 2 === 0 ? h : h + 1);
    assert.equal(f32ToF16Bits(Math.fround(mid * (1 - 2 ** -20))), h);
    assert.equal(f32ToF16Bits(Math.fround(mid * (1 + 2 ** -20))), h + 1);
  }
  assert.equal(f32ToF16Bits(65520), 0x7c00, "overflow rounds to infinity");
  assert.equal(f32ToF16Bits(65519), 0x7bff);
  assert.equal(f32ToF16Bits(-0), 0x8000);
  assert.equal(f32ToF16Bits(2 ** -25), 0, "half the smallest subnormal ties to zero");
  assert.equal(f32ToF16Bits(2 ** -25 * 1.5), 1);
});

test("q8_0: one F16 scale max|x|/127 per 32 values, int8 rounded half away from zero", () => {
  const blocks = new Float32Array(96);
  blocks.set([127, -63.5, 0.5, -0.5, 1.5, 126.5, -127], 0); // scale 1: the values themselves, halves away from 0
  // block 2 stays zero: scale 0, every quant 0
  blocks.set([254, 3, -1, -2.9, 0.2], 64); // scale 2
  const bytes = new Uint8Array(3 * 34);
  TENSOR_ENCODERS[GgmlType.Q8_0]!.encode(blocks, bytes);
  const view = new DataView(bytes.buffer);
  const block = (index: number) => ({
    scale: f16BitsToF32(view.getUint16(index * 34, true)),
    quants: Array.from(new Int8Array(bytes.buffer, index * 34 + 2, 32)),
  });
  assert.deepEqual(block(0), { scale: 1, quants: [127, -64, 1, -1, 2, 127, -127, ...new Array(25).fill(0)] });
  assert.deepEqual(block(1), { scale: 0, quants: new Array(32).fill(0) });
  assert.deepEqual(block(2), { scale: 2, quants: [127, 2, -1, -1, 0, ...new Array(27).fill(0)] });
});

test("the PRNG is deterministic and roughly normal", () => {
  const a = new Random(7, "w");
  const b = new Random(7, "w");
  const c = new Random(7, "v");
  const xs = Array.from({ length: 20000 }, () => a.normal());
  assert.deepEqual(xs, Array.from({ length: 20000 }, () => b.normal()));
  assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c.normal()));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mean) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  // pinned outputs (checked against an independent implementation): changing the generator changes every model
  const pinned = new Random(1);
  assert.deepEqual([pinned.nextU32(), pinned.nextU32(), pinned.nextU32()], [3296685081, 292216795, 3203276040]);
  assert.equal(new Random(1, "w").normal(), -1.6279140061233193);
});
