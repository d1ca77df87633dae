/**
 * What export's dataset formats (coco, yolo, embeddings) ask of each sidecar and get back
 * (analysis/dataset.ts makes the rows, in the thread that decoded the file). Types only.
 */

export interface DatasetRequest {
  format: 'coco' | 'yolo' | 'embeddings';
  /** coco / yolo: face boxes too, as the category `face` (objects always). */
  faces?: boolean;
  /** embeddings: floats per vector (default 512). */
  dim?: number;
  /** Only results of this operation (a normalised name). */
  operation?: string;
}

/** One box of a coco / yolo export, as text ready to be written. */
export interface DatasetBox {
  category: string;
  /** coco: `"bbox":[x,y,w,h],"area":a` in pixels; yolo: `cx cy w h`, normalised. */
  box: string;
  /** The detection's `confidence` as typed JSON, or `null`. */
  score: string;
  /** JSON of where it came from: `{"operation","backend","list","index"}`. */
  source: string;
}

export interface DatasetRows {
  /** File name (NFC) of the image the sidecar says it was saved for, or null; read only when its record holds several images (InspectItem.namesImage), else null. */
  namedImage: string | null;
  /** coco / yolo: the image size the results agree on (null: none given). */
  width: number | null;
  height: number | null;
  /** coco / yolo: a successful result holds a list of an exported kind (`objects`, `faces`). */
  detected: boolean;
  boxes: DatasetBox[];
  /** embeddings: per vector, its row's fields after `image` and `sidecar` (JSON text without braces). */
  rows: string[];
  /** embeddings: rows.length × dim float32 values, row after row. */
  vectors: Float32Array | null;
  /** embeddings: faces whose encoding is null, absent or empty. */
  noEncoding: number;
  /** embeddings: faces whose encoding has another length (length → faces). */
  otherDims: Record<string, number>;
  /** What could not be read with certainty, each `<JSON pointer>: <reason>`. */
  problems: string[];
}
