import type { VersionData } from './datasets.ts';
import type { ProblemCode, Sample } from './formats/types.ts';

/** COCO's object-size buckets, by box area in pixels: small < 32², medium < 96², large otherwise. */
export type SizeBucket = 'small' | 'medium' | 'large';
export const sizeBuckets: readonly SizeBucket[] = ['small', 'medium', 'large'];

export function sizeBucket(areaPixels: number): SizeBucket {
  return areaPixels < 32 * 32 ? 'small' : areaPixels < 96 * 96 ? 'medium' : 'large';
}

/** Out-of-bounds slack for boxes, in image fractions: label tools round coordinates. */
const boundsTolerance = 1e-3;

type BoxCheck = 'ok' | 'degenerate' | 'out_of_bounds';

/** Checks one normalized box (centre x, centre y, width, height) on an image of `width`×`height` pixels. */
export function checkBox(
  cx: number,
  cy: number,
  w: number,
  h: number,
  width?: number,
  height?: number,
): BoxCheck {
  if (![cx, cy, w, h].every(Number.isFinite) || w <= 0 || h <= 0) return 'degenerate';
  if (width && height && (w * width < 1 || h * height < 1)) return 'degenerate';
  const t = boundsTolerance;
  if (cx - w / 2 < -t || cy - h / 2 < -t || cx + w / 2 > 1 + t || cy + h / 2 > 1 + t) return 'out_of_bounds';
  return 'ok';
}

function* boxesOf(sample: Sample): Generator<{ cls: number; cx: number; cy: number; w: number; h: number }> {
  const b = sample.boxes;
  for (let i = 0; i < b.length; i += 5)
    yield {
      cls: b[i] as number,
      cx: b[i + 1] as number,
      cy: b[i + 2] as number,
      w: b[i + 3] as number,
      h: b[i + 4] as number,
    };
}

export interface ClassCount {
  id: number;
  name: string;
  /** Boxes of the class (detection) or images in its folder (classification). */
  instances: number;
  /** Images with at least one instance. */
  images: number;
}

export interface SplitStats {
  split: string;
  images: number;
  labelled: number;
  /** Images without a label file / annotation entry / class folder. */
  unlabelled: number;
  /** Labelled images with no boxes (backgrounds). */
  empty: number;
  instances: number;
  corrupt: number;
}

export interface VersionStats {
  format: string;
  classCount: number;
  /** Every split's counts added up. */
  totals: Omit<SplitStats, 'split'>;
  splits: SplitStats[];
  classes: ClassCount[];
  boxesPerImage?: {
    mean: number;
    median: number;
    max: number;
    histogram: Array<{ boxes: string; images: number }>;
  };
  boxSizes?: { small: number; medium: number; large: number; unknown: number };
  imageSizes: {
    distinct: number;
    unknown: number;
    top: Array<{ width: number; height: number; images: number }>;
    minWidth?: number;
    maxWidth?: number;
    minHeight?: number;
    maxHeight?: number;
  };
  imbalance: {
    mostCommon?: string;
    leastCommon?: string;
    /** Instances of the most common class over the least common one that has any. */
    ratio?: number;
    classesWithoutInstances: string[];
    summary: string;
  };
}

const perImageBuckets: Array<[string, number, number]> = [
  ['0', 0, 0],
  ['1', 1, 1],
  ['2', 2, 2],
  ['3-5', 3, 5],
  ['6-10', 6, 10],
  ['11-50', 11, 50],
  ['51+', 51, Number.POSITIVE_INFINITY],
];

/** Counts for one version: per split, per class, boxes per image and their sizes, image sizes, imbalance. */
export function computeStats(data: VersionData): VersionStats {
  const detection = data.format !== 'image-folder';
  const classes: ClassCount[] = data.classes.map((name, id) => ({ id, name, instances: 0, images: 0 }));
  const splits = new Map<string, SplitStats>(
    data.splits.map((split) => [
      split,
      { split, images: 0, labelled: 0, unlabelled: 0, empty: 0, instances: 0, corrupt: 0 },
    ]),
  );
  const perImage: number[] = [];
  const sizes = { small: 0, medium: 0, large: 0, unknown: 0 };
  const imageSizes = new Map<string, number>();
  let unknownSize = 0;
  let minW = Number.POSITIVE_INFINITY;
  let maxW = 0;
  let minH = Number.POSITIVE_INFINITY;
  let maxH = 0;
  for (const sample of data.samples) {
    let split = splits.get(sample.split);
    if (!split) {
      split = {
        split: sample.split,
        images: 0,
        labelled: 0,
        unlabelled: 0,
        empty: 0,
        instances: 0,
        corrupt: 0,
      };
      splits.set(sample.split, split);
    }
    split.images++;
    const { width, height, problem } = sample.info;
    if (problem) split.corrupt++;
    if (width && height) {
      const key = `${width}x${height}`;
      imageSizes.set(key, (imageSizes.get(key) ?? 0) + 1);
      minW = Math.min(minW, width);
      maxW = Math.max(maxW, width);
      minH = Math.min(minH, height);
      maxH = Math.max(maxH, height);
    } else unknownSize++;
    if (!sample.labelled) {
      split.unlabelled++;
      continue;
    }
    split.labelled++;
    if (!detection) {
      const cls = classes[sample.classIndex ?? -1];
      if (cls) {
        cls.instances++;
        cls.images++;
        split.instances++;
      }
      continue;
    }
    const n = sample.boxes.length / 5;
    perImage.push(n);
    if (n === 0) split.empty++;
    split.instances += n;
    const seen = new Set<number>();
    for (const box of boxesOf(sample)) {
      const cls = classes[box.cls];
      if (!cls) continue;
      cls.instances++;
      if (!seen.has(box.cls)) {
        seen.add(box.cls);
        cls.images++;
      }
      if (width && height && checkBox(box.cx, box.cy, box.w, box.h, width, height) !== 'degenerate')
        sizes[sizeBucket(box.w * width * box.h * height)]++;
      else sizes.unknown++;
    }
  }
  const splitList = [...splits.values()];
  const sum = (key: keyof Omit<SplitStats, 'split'>) => splitList.reduce((a, s) => a + s[key], 0);
  const stats: VersionStats = {
    format: data.format,
    classCount: classes.length,
    totals: {
      images: sum('images'),
      labelled: sum('labelled'),
      unlabelled: sum('unlabelled'),
      empty: sum('empty'),
      instances: sum('instances'),
      corrupt: sum('corrupt'),
    },
    splits: splitList,
    classes,
    imageSizes: {
      distinct: imageSizes.size,
      unknown: unknownSize,
      top: [...imageSizes]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([key, images]) => {
          const [width, height] = key.split('x').map(Number) as [number, number];
          return { width, height, images };
        }),
      ...(maxW > 0 ? { minWidth: minW, maxWidth: maxW, minHeight: minH, maxHeight: maxH } : {}),
    },
    imbalance: imbalance(classes),
  };
  if (detection) {
    perImage.sort((a, b) => a - b);
    stats.boxesPerImage = {
      mean: round(perImage.reduce((a, b) => a + b, 0) / Math.max(1, perImage.length), 3),
      median: perImage.length ? (perImage[Math.floor(perImage.length / 2)] as number) : 0,
      max: perImage.at(-1) ?? 0,
      histogram: perImageBuckets.map(([boxes, lo, hi]) => ({
        boxes,
        images: perImage.filter((n) => n >= lo && n <= hi).length,
      })),
    };
    stats.boxSizes = sizes;
  }
  return stats;
}

function imbalance(classes: ClassCount[]): VersionStats['imbalance'] {
  const present = classes.filter((c) => c.instances > 0).sort((a, b) => b.instances - a.instances);
  const classesWithoutInstances = classes.filter((c) => c.instances === 0).map((c) => c.name);
  const most = present[0];
  const least = present.at(-1);
  if (!most || !least) return { classesWithoutInstances, summary: 'no labelled instances' };
  const ratio = round(most.instances / least.instances, 2);
  const missing = classesWithoutInstances.length
    ? `; ${classesWithoutInstances.length} class(es) have none: ${classesWithoutInstances.slice(0, 5).join(', ')}`
    : '';
  const level = ratio >= 10 ? 'severe imbalance' : ratio >= 3 ? 'imbalanced' : 'balanced';
  return {
    mostCommon: most.name,
    leastCommon: least.name,
    ratio,
    classesWithoutInstances,
    summary: `${level}: ${most.name} has ${ratio}× the instances of ${least.name}${missing}`,
  };
}

export type FindingCode =
  | ProblemCode
  | 'corrupt_image'
  | 'duplicate_image'
  | 'split_leakage'
  | 'missing_label'
  | 'box_out_of_bounds'
  | 'box_degenerate'
  | 'class_without_training_examples';

export interface Finding {
  code: FindingCode;
  severity: 'error' | 'warning';
  /** Occurrences: images, boxes, lines or files, as `message` says. */
  count: number;
  message: string;
  /** A few affected paths (relative to the version folder), with detail where useful. */
  examples: string[];
}

const severity: Record<FindingCode, 'error' | 'warning'> = {
  corrupt_image: 'error',
  duplicate_image: 'warning',
  split_leakage: 'error',
  missing_label: 'warning',
  label_without_image: 'error',
  class_out_of_range: 'error',
  malformed_label: 'error',
  label_file_too_large: 'warning',
  annotation_file_unreadable: 'error',
  split_missing: 'error',
  box_out_of_bounds: 'warning',
  box_degenerate: 'error',
  class_without_training_examples: 'warning',
};

const what: Record<FindingCode, string> = {
  corrupt_image: 'images are unreadable or corrupt',
  duplicate_image: 'images are exact duplicates of another image in this version',
  split_leakage: 'images appear in more than one split (same content)',
  missing_label:
    'images have no labels (no label file, not in any annotation file, or outside class folders)',
  label_without_image: 'labels point at images that do not exist',
  class_out_of_range: 'boxes use a class id the dataset does not define',
  malformed_label: 'label lines or annotations cannot be parsed',
  label_file_too_large: 'label files exceed the read limit and were read only in part',
  annotation_file_unreadable: 'annotation or dataset files cannot be parsed',
  split_missing: 'splits named in the dataset file have no images',
  box_out_of_bounds: 'boxes extend outside their image',
  box_degenerate: 'boxes have zero, negative or sub-pixel width or height',
  class_without_training_examples: 'classes have no instances in the train split',
};

const maxExamples = 5;

/** Every defect in a version, one finding per kind with counts and a few example paths. */
export function validate(data: VersionData): Finding[] {
  const found = new Map<FindingCode, { count: number; examples: string[] }>();
  const add = (code: FindingCode, example: string, n = 1) => {
    let entry = found.get(code);
    if (!entry) {
      entry = { count: 0, examples: [] };
      found.set(code, entry);
    }
    entry.count += n;
    if (entry.examples.length < maxExamples) entry.examples.push(example);
  };
  for (const problem of data.problems)
    add(problem.code, problem.detail ? `${problem.path} (${problem.detail})` : problem.path, problem.n ?? 1);

  const byHash = new Map<string, Sample[]>();
  const seenImage = new Set<string>();
  for (const sample of data.samples) {
    if (seenImage.has(sample.image)) {
      // The same file listed by two splits: leakage by path, not a duplicate file.
    } else {
      seenImage.add(sample.image);
      if (sample.info.problem) add('corrupt_image', `${sample.image} (${sample.info.problem})`);
      if (!sample.labelled) add('missing_label', sample.image);
      let bad = 0;
      let oob = 0;
      for (const box of boxesOf(sample)) {
        const check = checkBox(box.cx, box.cy, box.w, box.h, sample.info.width, sample.info.height);
        if (check === 'degenerate') bad++;
        else if (check === 'out_of_bounds') oob++;
      }
      if (bad || oob) {
        const where = `${data.labelPathOf?.(sample.image) ?? sample.label ?? sample.image} (${sample.image})`;
        if (bad) add('box_degenerate', where, bad);
        if (oob) add('box_out_of_bounds', where, oob);
      }
    }
    if (sample.info.problem?.startsWith('unreadable')) continue;
    let group = byHash.get(sample.info.hash);
    if (!group) {
      group = [];
      byHash.set(sample.info.hash, group);
    }
    group.push(sample);
  }
  for (const group of byHash.values()) {
    if (group.length < 2) continue;
    // Copies inside one split are duplicates; copies across splits are leakage (reported once).
    const bySplit = new Map<string, string[]>();
    for (const s of group) {
      const files = bySplit.get(s.split) ?? [];
      if (!files.includes(s.image)) files.push(s.image);
      bySplit.set(s.split, files);
    }
    for (const files of bySplit.values())
      if (files.length > 1) add('duplicate_image', files.slice(0, 3).join(' = '), files.length - 1);
    if (bySplit.size > 1)
      add(
        'split_leakage',
        [...bySplit]
          .map(([split, files]) => `${split}:${files[0]}`)
          .slice(0, 3)
          .join(' = '),
      );
  }
  if (data.format !== 'image-folder' && data.splits.includes('train')) {
    const inTrain = new Set<number>();
    for (const sample of data.samples) {
      if (sample.split !== 'train') continue;
      for (const box of boxesOf(sample)) inTrain.add(box.cls);
    }
    data.classes.forEach((name, id) => {
      if (!inTrain.has(id)) add('class_without_training_examples', `${id}: ${name}`);
    });
  } else if (data.format === 'image-folder' && data.splits.includes('train')) {
    const inTrain = new Set(data.samples.filter((s) => s.split === 'train').map((s) => s.classIndex));
    data.classes.forEach((name, id) => {
      if (!inTrain.has(id)) add('class_without_training_examples', `${id}: ${name}`);
    });
  }
  const order = Object.keys(severity) as FindingCode[];
  return [...found]
    .sort(
      ([a], [b]) =>
        (severity[a] === severity[b] ? 0 : severity[a] === 'error' ? -1 : 1) ||
        order.indexOf(a) - order.indexOf(b),
    )
    .map(([code, { count, examples }]) => ({
      code,
      severity: severity[code],
      count,
      message: `${count} ${what[code]}`,
      examples,
    }));
}

export interface Shift {
  /** Population stability index; < 0.1 stable, 0.1–0.25 moderate, > 0.25 large. */
  psi: number;
  /** Jensen–Shannon divergence (base 2, 0–1). */
  jsd: number;
  level: 'stable' | 'moderate' | 'large';
  summary: string;
}

const epsilon = 1e-4;

function shares(counts: number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total > 0 ? c / total : 0));
}

/** PSI between two count vectors over the same bins (empty bins get a small share, as is usual). */
export function psi(from: number[], to: number[]): number {
  const p = shares(from);
  const q = shares(to);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = Math.max(p[i] as number, epsilon);
    const b = Math.max(q[i] as number, epsilon);
    sum += (b - a) * Math.log(b / a);
  }
  return sum;
}

/** Jensen–Shannon divergence in bits between two count vectors over the same bins. */
export function jensenShannon(from: number[], to: number[]): number {
  const p = shares(from);
  const q = shares(to);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] as number;
    const b = q[i] as number;
    const m = (a + b) / 2;
    if (a > 0) sum += 0.5 * a * Math.log2(a / m);
    if (b > 0) sum += 0.5 * b * Math.log2(b / m);
  }
  return Math.max(0, sum);
}

function shift(what: string, names: string[], from: number[], to: number[]): Shift {
  const value = psi(from, to);
  const level = value >= 0.25 ? 'large' : value >= 0.1 ? 'moderate' : 'stable';
  const p = shares(from);
  const q = shares(to);
  const moves = names
    .map((name, i) => ({ name, a: p[i] as number, b: q[i] as number }))
    .sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a))
    .slice(0, 3)
    .filter((m) => Math.abs(m.b - m.a) >= 0.005)
    .map((m) => `${m.name} ${pct(m.a)} → ${pct(m.b)}`);
  const verdict =
    level === 'large'
      ? `${what} shifted a lot`
      : level === 'moderate'
        ? `${what} shifted noticeably`
        : `${what} is stable`;
  const jsd = jensenShannon(from, to);
  return {
    psi: round(value, 4),
    jsd: round(jsd, 4),
    level,
    summary: `${verdict} (PSI ${round(value, 3)}, JS ${round(jsd, 3)})${moves.length ? `: ${moves.join(', ')}` : ''}.`,
  };
}

export interface VersionDiff {
  samples: {
    from: number;
    to: number;
    added: number;
    removed: number;
    imageChanged: number;
    labelsChanged: number;
    unchanged: number;
    /** Added paths whose image content existed in the old version under another path (moved or copied). */
    addedWithKnownContent: number;
  };
  examples: { added: string[]; removed: string[]; imageChanged: string[]; labelsChanged: string[] };
  splits: Array<{ split: string; from: number; to: number }>;
  classes: Array<{
    name: string;
    from: number;
    to: number;
    delta: number;
    fromShare: number;
    toShare: number;
  }>;
  classShift: Shift;
  boxSizeShift?: Shift & { from: Record<SizeBucket, number>; to: Record<SizeBucket, number> };
  flags: string[];
}

/** What changed between two versions: samples by path and content hash, class counts, distribution shift. */
export function diffVersions(
  from: VersionData,
  to: VersionData,
  fromStats: VersionStats,
  toStats: VersionStats,
): VersionDiff {
  const key = (s: Sample) => `${s.split}:${s.image}`;
  const before = new Map(from.samples.map((s) => [key(s), s]));
  const after = new Map(to.samples.map((s) => [key(s), s]));
  const oldHashes = new Set(from.samples.map((s) => s.info.hash));
  const examples = {
    added: [] as string[],
    removed: [] as string[],
    imageChanged: [] as string[],
    labelsChanged: [] as string[],
  };
  const counts = {
    added: 0,
    removed: 0,
    imageChanged: 0,
    labelsChanged: 0,
    unchanged: 0,
    addedWithKnownContent: 0,
  };
  const note = (list: string[], value: string) => {
    if (list.length < 5) list.push(value);
  };
  for (const [k, s] of after) {
    const old = before.get(k);
    if (!old) {
      counts.added++;
      note(examples.added, k);
      if (oldHashes.has(s.info.hash)) counts.addedWithKnownContent++;
    } else if (old.info.hash !== s.info.hash) {
      counts.imageChanged++;
      note(examples.imageChanged, k);
    } else if (old.labelKey !== s.labelKey || old.labelled !== s.labelled) {
      counts.labelsChanged++;
      note(examples.labelsChanged, k);
    } else counts.unchanged++;
  }
  for (const k of before.keys()) {
    if (after.has(k)) continue;
    counts.removed++;
    note(examples.removed, k);
  }

  const names = [...new Set([...from.classes, ...to.classes])];
  const count = (stats: VersionStats, name: string) =>
    stats.classes.find((c) => c.name === name)?.instances ?? 0;
  const fromCounts = names.map((n) => count(fromStats, n));
  const toCounts = names.map((n) => count(toStats, n));
  const fromShares = shares(fromCounts);
  const toShares = shares(toCounts);
  const classes = names
    .map((name, i) => ({
      name,
      from: fromCounts[i] as number,
      to: toCounts[i] as number,
      delta: (toCounts[i] as number) - (fromCounts[i] as number),
      fromShare: round(fromShares[i] as number, 4),
      toShare: round(toShares[i] as number, 4),
    }))
    .sort(
      (a, b) =>
        Math.abs(b.toShare - b.fromShare) - Math.abs(a.toShare - a.fromShare) ||
        Math.abs(b.delta) - Math.abs(a.delta),
    );
  const classShift = shift('The class mix', names, fromCounts, toCounts);
  const diff: VersionDiff = {
    samples: { from: from.samples.length, to: to.samples.length, ...counts },
    examples,
    splits: [
      ...new Set([...fromStats.splits.map((s) => s.split), ...toStats.splits.map((s) => s.split)]),
    ].map((split) => ({
      split,
      from: fromStats.splits.find((s) => s.split === split)?.images ?? 0,
      to: toStats.splits.find((s) => s.split === split)?.images ?? 0,
    })),
    classes,
    classShift,
    flags: [],
  };
  if (fromStats.boxSizes && toStats.boxSizes) {
    const a = fromStats.boxSizes;
    const b = toStats.boxSizes;
    const boxShift = shift(
      'The box-size mix',
      [...sizeBuckets],
      sizeBuckets.map((k) => a[k]),
      sizeBuckets.map((k) => b[k]),
    );
    diff.boxSizeShift = {
      ...boxShift,
      from: { small: a.small, medium: a.medium, large: a.large },
      to: { small: b.small, medium: b.medium, large: b.large },
    };
    if (boxShift.level !== 'stable') diff.flags.push(boxShift.summary);
  }
  if (classShift.level !== 'stable') diff.flags.unshift(classShift.summary);
  const appeared = names.filter((_, i) => fromCounts[i] === 0 && (toCounts[i] as number) > 0);
  const vanished = names.filter((_, i) => (fromCounts[i] as number) > 0 && toCounts[i] === 0);
  if (appeared.length) diff.flags.push(`New classes with instances: ${appeared.slice(0, 10).join(', ')}.`);
  if (vanished.length)
    diff.flags.push(`Classes that lost all instances: ${vanished.slice(0, 10).join(', ')}.`);
  return diff;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
