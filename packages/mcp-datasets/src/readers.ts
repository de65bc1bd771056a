import { hash } from 'node:crypto';
import { type ImageFormat, readImageHeader } from './image-header.ts';

/**
 * What the scanner keeps per file, small enough to cache on disk for 100k files. Each kind
 * is produced from the file's bytes by one reader below; the scanner re-runs a reader only
 * when the file's size or mtime changed.
 */
export interface ImageRecord {
  kind: 'image';
  format?: ImageFormat;
  width?: number;
  height?: number;
  problem?: string;
  /** Content hash (SHA-1, base64url): exact duplicates and split leakage. */
  hash: string;
}

export interface YoloLabelRecord {
  kind: 'yolo';
  /** Flat rows of five numbers: class, centre x, centre y, width, height (normalized). */
  rows: number[];
  /** Lines that are neither a box nor a polygon, with the first one's number. */
  malformed: number;
  firstMalformedLine?: number;
  /** Set when the file was larger than the read cap: its size in bytes. */
  truncatedFrom?: number;
  hash: string;
}

export interface CocoRecord {
  kind: 'coco';
  /** [id, file_name, width, height] */
  images: Array<[number, string, number, number]>;
  /** [id, name] */
  categories: Array<[number, string]>;
  /** [image_id, category_id, x, y, width, height] in pixels */
  annotations: Array<[number, number, number, number, number, number]>;
  problem?: string;
}

export type FileRecord = ImageRecord | YoloLabelRecord | CocoRecord;
export type RecordKind = FileRecord['kind'];

/** Label text files above this are read only this far and reported: a label file is small. */
export const maxLabelFileBytes = 1024 * 1024;
/** COCO annotation files above this are not parsed (JSON must be held whole) and reported. */
export const maxCocoFileBytes = 512 * 1024 * 1024;

/**
 * 120 bits of SHA-1 (20 base64url characters): ample to tell files apart, and a short string
 * per file held in memory. The one-shot `hash()` allocates no Hash object, whose native state
 * would otherwise pile up outside V8's view between collections over a 100k-file scan.
 */
export function hashBytes(bytes: Uint8Array): string {
  return hash('sha1', bytes, 'base64url').slice(0, 20);
}

/** Image record from the head and tail of the file plus its full-content hash. */
export function imageRecord(head: Buffer, tail: Buffer, size: number, hash: string): ImageRecord {
  const header = readImageHeader(head, tail, size);
  const record: ImageRecord = { kind: 'image', hash };
  if (header.format) record.format = header.format;
  if (header.width !== undefined) record.width = header.width;
  if (header.height !== undefined) record.height = header.height;
  if (header.problem) record.problem = header.problem;
  return record;
}

/**
 * Parses a YOLO label file: `class cx cy w h` per line, or a segmentation polygon
 * `class x1 y1 x2 y2 …` (reduced to its bounding box). `size` is the file's full size, which
 * exceeds `bytes.length` when the read was capped.
 */
export function yoloLabelRecord(bytes: Buffer, size: number): YoloLabelRecord {
  // Labels are ASCII numbers: latin1 decodes fastest into a compact string.
  let text = bytes.toString('latin1');
  const record: YoloLabelRecord = { kind: 'yolo', rows: [], malformed: 0, hash: hashBytes(bytes) };
  if (size > bytes.length) {
    record.truncatedFrom = size;
    // The last line of a capped read is cut mid-way; drop it rather than call it malformed.
    text = text.slice(0, Math.max(0, text.lastIndexOf('\n')));
  }
  // A hand-rolled tokenizer: splitting 100k files into line and token arrays is most of the
  // garbage a cold scan would otherwise make.
  const values = scratch;
  let lineNumber = 0;
  let at = 0;
  while (at <= text.length) {
    const newline = text.indexOf('\n', at);
    const end = newline < 0 ? text.length : newline;
    lineNumber++;
    values.length = 0;
    let ok = true;
    let i = at;
    let comment = false;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 13) {
        i++;
        continue;
      }
      if (c === 35 && values.length === 0) {
        comment = true;
        break;
      }
      let j = i + 1;
      while (j < end) {
        const d = text.charCodeAt(j);
        if (d === 32 || d === 9 || d === 13) break;
        j++;
      }
      const value = Number(text.slice(i, j));
      if (!Number.isFinite(value)) ok = false;
      values.push(value);
      i = j;
    }
    at = end + 1;
    if (comment || values.length === 0) continue;
    const n = values.length;
    if (ok && n === 5) {
      for (let k = 0; k < 5; k++) record.rows.push(values[k] as number);
    } else if (ok && n >= 7 && n % 2 === 1) {
      let x0 = Number.POSITIVE_INFINITY;
      let y0 = Number.POSITIVE_INFINITY;
      let x1 = Number.NEGATIVE_INFINITY;
      let y1 = Number.NEGATIVE_INFINITY;
      for (let k = 1; k < n; k += 2) {
        const x = values[k] as number;
        const y = values[k + 1] as number;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
      record.rows.push(values[0] as number, (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0);
    } else {
      record.malformed++;
      record.firstMalformedLine ??= lineNumber;
    }
  }
  return record;
}

const scratch: number[] = [];

interface CocoJson {
  images?: Array<{ id?: unknown; file_name?: unknown; width?: unknown; height?: unknown }>;
  categories?: Array<{ id?: unknown; name?: unknown }>;
  annotations?: Array<{ image_id?: unknown; category_id?: unknown; bbox?: unknown }>;
}

/** The parts of a COCO annotation file the analyses use, in a compact cacheable shape. */
export function cocoRecord(bytes: Buffer | undefined, size: number): CocoRecord {
  const record: CocoRecord = { kind: 'coco', images: [], categories: [], annotations: [] };
  if (!bytes) {
    record.problem = `annotation file is ${size} bytes, above the ${maxCocoFileBytes}-byte limit; not parsed`;
    return record;
  }
  let json: CocoJson;
  try {
    json = JSON.parse(bytes.toString('utf8')) as CocoJson;
  } catch (error) {
    record.problem = `not valid JSON: ${(error as Error).message.slice(0, 200)}`;
    return record;
  }
  if (!json || typeof json !== 'object' || !Array.isArray(json.images)) {
    record.problem = 'not a COCO annotation file (no "images" array)';
    return record;
  }
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN);
  for (const image of json.images) {
    if (typeof image?.file_name !== 'string') continue;
    record.images.push([num(image.id), image.file_name, num(image.width), num(image.height)]);
  }
  for (const category of json.categories ?? []) {
    record.categories.push([num(category?.id), String(category?.name ?? category?.id)]);
  }
  for (const annotation of json.annotations ?? []) {
    const bbox = Array.isArray(annotation?.bbox) ? annotation.bbox : [];
    record.annotations.push([
      num(annotation?.image_id),
      num(annotation?.category_id),
      num(bbox[0]),
      num(bbox[1]),
      num(bbox[2]),
      num(bbox[3]),
    ]);
  }
  return record;
}
