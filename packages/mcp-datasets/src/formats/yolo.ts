import { posix } from 'node:path';
import type { YoloLabelRecord } from '../readers.ts';
import { parseYaml } from '../yaml.ts';
import { dirOf, extensionOf, isImagePath, resolveInside } from './paths.ts';
import type { LoadContext, Problem, Sample, VersionLayout } from './types.ts';

const splitKeys = ['train', 'val', 'test'] as const;

/** The YAML file that makes a folder a YOLO version: one at its top with `names` (or `nc`). */
export function findYoloYaml(files: readonly string[], readText: (path: string) => string | undefined) {
  const candidates = files.filter((f) => !f.includes('/') && /\.ya?ml$/i.test(f));
  candidates.sort((a, b) => rank(a) - rank(b));
  for (const file of candidates) {
    const text = readText(file);
    if (text && /^(names|nc)\s*:/m.test(text)) return { file, text };
  }
  return undefined;
}

function rank(file: string): number {
  return file === 'data.yaml' ? 0 : file === 'dataset.yaml' ? 1 : 2;
}

/** Where Ultralytics looks for an image's labels: the last `/images/` becomes `/labels/`, extension `.txt`. */
export function yoloLabelPath(image: string): string {
  const withSlash = `/${image}`;
  const at = withSlash.lastIndexOf('/images/');
  const swapped = at < 0 ? withSlash : `${withSlash.slice(0, at)}/labels/${withSlash.slice(at + 8)}`;
  const ext = extensionOf(swapped);
  return `${swapped.slice(1, swapped.length - ext.length)}.txt`;
}

/**
 * A YOLO version: `data.yaml` (class names, split paths relative to `path`), images under
 * each split path, one `labels/…/*.txt` per image.
 */
export async function loadYolo(
  yamlFile: string,
  yamlText: string,
  context: LoadContext,
): Promise<VersionLayout> {
  const { scanner } = context;
  const problems: Problem[] = [];
  let data: Record<string, unknown> = {};
  try {
    const parsed = await parseYaml(yamlText);
    if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
  } catch (error) {
    problems.push({
      code: 'annotation_file_unreadable',
      path: yamlFile,
      detail: `YAML does not parse: ${(error as Error).message.split('\n')[0]}`,
    });
  }
  const classes = classNames(data);
  const yamlDir = dirOf(yamlFile);
  // `path` often names the folder on the machine that trained; when it is not inside this
  // version, split paths are taken relative to the YAML file, as they would be after a copy.
  const declared = typeof data.path === 'string' ? resolveInside(yamlDir, data.path) : undefined;
  const base = declared ?? yamlDir;

  const files = scanner.list();
  const splits: string[] = [];
  const images: Array<{ split: string; image: string }> = [];
  const labelDirs = new Set<string>();
  for (const key of splitKeys) {
    const value = data[key];
    if (value === undefined || value === null) continue;
    const entries = (Array.isArray(value) ? value : [value]).filter(
      (v): v is string => typeof v === 'string',
    );
    splits.push(key);
    for (const entry of entries) {
      const target = resolveInside(base, entry);
      if (target === undefined) {
        problems.push({
          code: 'split_missing',
          path: yamlFile,
          detail: `${key}: "${entry}" is outside the version folder`,
        });
        continue;
      }
      let found: string[];
      if (extensionOf(target) === '.txt' && scanner.has(target)) {
        found = listFile(scanner.readText(target, 64 * 1024 * 1024) ?? '', dirOf(target), base).filter((p) =>
          scanner.has(p),
        );
      } else {
        const prefix = target === '' ? '' : `${target}/`;
        found = files.filter((f) => f.startsWith(prefix) && isImagePath(f));
      }
      if (found.length === 0) {
        problems.push({
          code: 'split_missing',
          path: target || '.',
          detail: `${key}: no images at "${entry}"`,
        });
        continue;
      }
      for (const image of found) images.push({ split: key, image });
      // Every image of a folder has its labels in the same folder: derive it once per folder.
      let lastDir: string | undefined;
      for (const image of found) {
        const dir = dirOf(image);
        if (dir === lastDir) continue;
        lastDir = dir;
        labelDirs.add(dirOf(yoloLabelPath(image)));
      }
    }
  }

  const imagePaths = [...new Set(images.map((i) => i.image))];
  const infos = await context.scanner.records(
    imagePaths,
    'image',
    context.check,
    context.progress,
    context.counts,
  );
  const labelOf = new Map(imagePaths.map((image) => [image, yoloLabelPath(image)]));
  const expected = new Set(labelOf.values());
  // The walk's own strings, so the cache keys do not hold a second copy of every label path.
  const labelPaths = files.filter((f) => f.endsWith('.txt') && expected.has(f));
  const labels = await context.scanner.records(
    labelPaths,
    'yolo',
    context.check,
    context.progress,
    context.counts,
  );

  const samples: Sample[] = [];
  for (const { split, image } of images) {
    const labelPath = labelOf.get(image) as string;
    const label = labels.get(labelPath);
    const info = infos.get(image);
    if (!info) continue;
    samples.push({
      split,
      image,
      labelled: label !== undefined,
      boxes: label ? boxesOf(label, labelPath, classes.length, problems) : [],
      info,
      labelKey: label?.hash ?? '',
    });
  }
  for (const file of files) {
    if (!file.endsWith('.txt') || expected.has(file) || !labelDirs.has(dirOf(file))) continue;
    problems.push({ code: 'label_without_image', path: file });
  }
  return { format: 'yolo', classes, splits, samples, problems: dedupe(problems), labelPathOf: yoloLabelPath };
}

function classNames(data: Record<string, unknown>): string[] {
  const names = data.names;
  if (Array.isArray(names)) return names.map(String);
  if (names && typeof names === 'object') {
    const entries = Object.entries(names as Record<string, unknown>)
      .map(([k, v]) => [Number(k), String(v)] as const)
      .filter(([k]) => Number.isInteger(k) && k >= 0);
    const out: string[] = [];
    for (const [k, v] of entries) out[k] = v;
    return Array.from(out, (v, i) => v ?? String(i));
  }
  const nc = Number(data.nc);
  return Number.isInteger(nc) && nc > 0 ? Array.from({ length: nc }, (_, i) => String(i)) : [];
}

function listFile(text: string, listDir: string, base: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => resolveInside(l.startsWith('./') ? listDir : base, l))
    .filter((p): p is string => p !== undefined)
    .map((p) => posix.normalize(p));
}

/** Boxes with a valid class; the rest become problems so one bad id cannot skew class counts. */
function boxesOf(label: YoloLabelRecord, path: string, classCount: number, problems: Problem[]): number[] {
  if (label.truncatedFrom !== undefined)
    problems.push({
      code: 'label_file_too_large',
      path,
      detail: `${label.truncatedFrom} bytes; only the first ${label.rows.length / 5} boxes were read`,
    });
  if (label.malformed > 0)
    problems.push({
      code: 'malformed_label',
      path,
      n: label.malformed,
      detail: label.firstMalformedLine ? `first at line ${label.firstMalformedLine}` : 'file unreadable',
    });
  const rows = label.rows;
  let valid = true;
  for (let i = 0; i < rows.length && valid; i += 5) {
    const cls = rows[i] as number;
    valid = Number.isInteger(cls) && cls >= 0 && cls < classCount;
  }
  // The usual case shares the cached rows instead of copying them.
  if (valid) return rows;
  const boxes: number[] = [];
  let bad = 0;
  let firstBad: number | undefined;
  for (let i = 0; i < rows.length; i += 5) {
    const cls = rows[i] as number;
    if (!Number.isInteger(cls) || cls < 0 || cls >= classCount) {
      bad++;
      firstBad ??= cls;
      continue;
    }
    for (let k = 0; k < 5; k++) boxes.push(rows[i + k] as number);
  }
  if (bad > 0)
    problems.push({
      code: 'class_out_of_range',
      path,
      n: bad,
      detail: `class ${firstBad}; valid ids are 0–${classCount - 1}`,
    });
  return boxes;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.code}\0${p.path}\0${p.detail ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
