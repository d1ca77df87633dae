/**
 * fast-check arbitraries of inspection results (tasks/inspect.ts FileInspection), and the option
 * sets real inspections run under: the packed batch's round trip (inspect-wire.test.ts) and the
 * WebAssembly entry writer's parity (entry-writer.test.ts) use the same ones.
 */
import fc from 'fast-check';
import type { SidecarSummary } from '../../src/model/summary.js';
import type { FileInspection, InspectOptions } from '../../src/model/inspection.js';

/** Operation and class names a decoder may give (odd ones: own keys named like Object.prototype's, non-ASCII, empty). */
export const opNameArb = fc.constantFrom('face_detection', 'yolov8', '__proto__', 'constructor', 'toString', 'é', '');

const maybeNum = fc.option(fc.oneof(fc.double({ noNaN: true }), fc.constant(-0)), { nil: undefined });

/** A sidecar summary as summarizeSidecar makes one (keys in or out of operation order, -0, nulls, image records). */
export const summaryArb = fc
  .record({
    ops: fc.uniqueArray(opNameArb, { maxLength: 4 }),
    order: fc.boolean(),
    times: fc.array(maybeNum, { minLength: 4, maxLength: 4 }),
    succ: fc.array(fc.option(fc.boolean(), { nil: undefined }), { minLength: 4, maxLength: 4 }),
    sizes: fc.array(fc.option(fc.nat(), { nil: undefined }), { minLength: 4, maxLength: 4 }),
    faces: fc.nat(50),
    objects: fc.nat(50),
    grade: fc.option(fc.string(), { nil: null }),
    score: fc.option(fc.double({ noNaN: true }), { nil: null }),
    embLen: fc.option(fc.nat(), { nil: null }),
    symlink: fc.option(fc.record({ isSymlink: fc.boolean(), broken: fc.boolean() }), { nil: null }),
    classes: fc.dictionary(opNameArb, fc.nat()),
    image: fc.option(fc.record({ size: fc.nat(), mtimeNs: fc.bigInt(), operations: fc.array(opNameArb), staleOperations: fc.array(opNameArb) }), { nil: null }),
    tool: fc.option(opNameArb, { nil: null }),
    type: fc.option(opNameArb, { nil: null }),
    info: fc.boolean(),
  })
  .map((g): SidecarSummary => {
    const ops = g.ops;
    const set = <T>(vals: (T | undefined)[]) => {
      const rec: Record<string, T> = {};
      const order = g.order ? ops : [...ops].reverse();
      order.forEach((op) => {
        const v = vals[ops.indexOf(op)];
        if (v !== undefined) Object.defineProperty(rec, op, { value: v, enumerable: true, writable: true, configurable: true });
      });
      return rec;
    };
    const classes: Record<string, number> = {};
    for (const [k, v] of Object.entries(g.classes)) Object.defineProperty(classes, k, { value: v, enumerable: true, writable: true, configurable: true });
    return {
      operations: ops,
      operationType: g.type,
      faces: g.faces,
      objects: g.objects,
      detectionCount: g.faces + g.objects,
      embeddings: g.faces,
      embeddingLength: g.embLen,
      qualityGrade: g.grade,
      qualityScore: g.score,
      processingTimes: set(g.times),
      success: set(g.succ),
      dataSizes: set(g.sizes),
      toolName: g.tool,
      hasSidecarInfo: g.info,
      symlink: g.symlink,
      objectClasses: classes,
      image: g.image,
    };
  });

/** A result without its path: every field the columns carry, and some they do not (then it travels as extras). */
export const inspectionArb = fc
  .record(
    {
      size: fc.nat(),
      status: fc.constantFrom('ok', 'corrupt', 'unreadable', 'unchecked', 'encrypted'),
      format: fc.constantFrom(null, 'json', 'bin', 'rkyv', 'legacy'),
      notes: fc.array(fc.string(), { maxLength: 2 }),
      shape: fc.constantFrom(null, 'sidecar', 'report', 'other'),
      elapsedMs: fc.double({ noNaN: true }),
      accel: fc.constantFrom('wasm', 'deferred'),
      summary: summaryArb,
      brief: fc.record({ detectionCount: fc.nat(), toolName: fc.option(opNameArb, { nil: null }), operationType: fc.option(opNameArb, { nil: null }) }),
      problems: fc.array(fc.record({ pointer: fc.string(), message: fc.string(), severity: fc.constantFrom('error', 'warning') }), { maxLength: 2 }),
      error: fc.record({ code: fc.constantFrom('CORRUPT', 'IO'), message: fc.string() }),
      encryptedKeyId: fc.string(),
      dataJson: fc.oneof(fc.string(), fc.uint8Array({ minLength: 1, maxLength: 8 })),
      link: fc.record({ broken: fc.boolean(), target: fc.string() }),
    },
    { requiredKeys: ['size', 'status', 'format', 'notes', 'shape', 'elapsedMs'] },
  )
  .map((r) => r as unknown as Omit<FileInspection, 'path'>);

/** Inspections of every kind: validate, stats (accelerated and not), the probe, kept data, a schema every file fails. */
export const INSPECT_OPTION_SETS: Readonly<Record<string, InspectOptions>> = {
  'validate (brief)': { brief: true, validate: true },
  'validate filtered': { summarize: true, sizes: false, validate: true },
  stats: { summarize: true },
  'stats, accel off': { summarize: true, accel: false },
  probe: { probe: true },
  keepData: { keepData: true, summarize: true },
  dataJson: { dataJson: true },
  schema: { validate: true, schema: { type: 'object', required: ['no_such_key'] } },
};
