/**
 * What one sidecar says, as the per-file task reports it (analysis/summary.ts makes these): the
 * summary stats and find read, the brief validate prints, the probe todo, stale and relink read.
 */

export interface ImageIdentity {
  size: number;
  mtimeNs: bigint;
  /** Lowercase hex, when computed / recorded. */
  sha256?: string;
}

/** What `sidecar_info.image` holds: the identity plus which results were computed on it. */
export interface ImageRecord extends ImageIdentity {
  operations: string[];
  staleOperations: string[];
}

export interface SidecarSummary {
  /** Normalised snake_case operation names, in file order. */
  operations: string[];
  /** `sidecar_info.operation_type` normalised, else the first operation. */
  operationType: string | null;
  /** Faces over all operations (detector, nested-backend, unified and oldest forms). */
  faces: number;
  /** Objects over all operations (yolov8, object_detection, unified, ...). */
  objects: number;
  /** faces + objects: the earlier tool's `detection_count`. */
  detectionCount: number;
  /** Faces carrying a non-empty `encoding` / `face_encoding` array. */
  embeddings: number;
  /** Length of the first embedding seen (null when there is none). */
  embeddingLength: number | null;
  /** `quality.grade` of the first result carrying one. */
  qualityGrade: string | null;
  qualityScore: number | null;
  /** Per operation, in seconds: first of metadata.processing_time, processing_time, detection_time, ... */
  processingTimes: Record<string, number>;
  /** Per operation: its `success` when present (false when any of its backends failed). */
  success: Record<string, boolean>;
  /** Per operation: the exact size of its value's CBOR encoding in our `.bin` format. */
  dataSizes: Record<string, number>;
  /** The tool of the operationType operation: backend name, metadata.detector, model name (null if none). */
  toolName: string | null;
  hasSidecarInfo: boolean;
  symlink: { isSymlink: boolean; broken: boolean } | null;
  /** Objects per `class_name` over all operations (`person`: 3). */
  objectClasses: Record<string, number>;
  /** `sidecar_info.image`: the image identity recorded at save time (null: unknown). */
  image: ImageRecord | null;
}

/**
 * The part of a summary that validate prints per file (the earlier tool's `detection_count`,
 * `tool_name`, `operation_type`): all a validate result needs to carry when no filter looks at the
 * rest, so that the rest is neither sent between threads nor stored in the index.
 */
export interface SidecarBrief {
  detectionCount: number;
  toolName: string | null;
  operationType: string | null;
}

/** What `todo`, `stale` and `relink` need of a sidecar: operation outcomes and the recorded image identity and name. */
export interface SidecarProbe {
  outcomes: Record<string, boolean | null>;
  image: ImageRecord | null;
  /** The image's file name the last save recorded (`sidecar_info.image_path`, or a link's target). */
  imageName: string | null;
}
