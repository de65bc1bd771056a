import type { ImageRecord } from '../readers.ts';
import type { ProgressFn, VersionScanner } from '../scanner.ts';

export type DatasetFormat = 'yolo' | 'coco' | 'image-folder';

/** One image of a version, with its labels in one shape whatever the format. */
export interface Sample {
  split: string;
  /** Path relative to the version folder. */
  image: string;
  /** Where its labels come from when that is one shared file (a COCO JSON); see `labelPathOf`. */
  label?: string;
  /** False when the image has no label file / is listed in no annotation file / sits in no class folder. */
  labelled: boolean;
  /** Image classification: index into the version's classes. */
  classIndex?: number;
  /** Flat rows of five: class index, centre x, centre y, width, height, normalized to the image (0–1). */
  boxes: number[];
  info: ImageRecord;
  /** Changes when the image's labels change (for diffs). */
  labelKey: string;
}

export type ProblemCode =
  | 'label_without_image'
  | 'class_out_of_range'
  | 'malformed_label'
  | 'label_file_too_large'
  | 'annotation_file_unreadable'
  | 'split_missing';

/** A defect found while reading a version's layout and labels (analysis adds the rest). */
export interface Problem {
  code: ProblemCode;
  path: string;
  detail?: string;
  /** Occurrences this entry stands for (e.g. boxes in one file); 1 when absent. */
  n?: number;
}

export interface VersionLayout {
  format: DatasetFormat;
  classes: string[];
  splits: string[];
  samples: Sample[];
  problems: Problem[];
  /** The label file of an image, for formats with one per image (derived, not stored per sample). */
  labelPathOf?: (image: string) => string;
}

export interface LoadContext {
  scanner: VersionScanner;
  /** Paths whose cached records must be checked against the disk ('all' after a walk). */
  check: Set<string> | 'all';
  progress: ProgressFn;
  counts: { read: number; cached: number };
}

export const splitNames: ReadonlySet<string> = new Set([
  'train',
  'val',
  'valid',
  'validation',
  'test',
  'eval',
]);
