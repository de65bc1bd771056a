import { posix } from 'node:path';
import type { CocoRecord } from '../readers.ts';
import { dirOf, isImagePath, under } from './paths.ts';
import type { LoadContext, Problem, Sample, VersionLayout } from './types.ts';

/** JSON files that may hold COCO annotations: at most two folders deep. */
export function cocoCandidates(files: readonly string[]): string[] {
  return files.filter((f) => f.toLowerCase().endsWith('.json') && f.split('/').length <= 3);
}

/** `instances_train2017.json` → train; `train/_annotations.coco.json` → train. */
export function splitFromJsonPath(path: string): string {
  const name = posix
    .basename(path)
    .replace(/\.json$/i, '')
    .replace(/\.coco$/i, '')
    .replace(/^(instances|annotations|person_keypoints)_?/i, '')
    .replace(/_?annotations$/i, '')
    .replace(/^_+|_+$/g, '')
    .replace(/\d+$/, '');
  if (name) return name;
  const parent = posix.basename(dirOf(path));
  return parent && parent !== 'annotations' ? parent : 'all';
}

/**
 * A COCO version: one annotation JSON per split (`annotations/instances_<split>.json` or
 * `<split>/_annotations.coco.json`); images are looked for next to it, under `images/<split>`,
 * `<split>` or `images`, whichever holds the listed files.
 */
export async function loadCoco(jsonFiles: readonly string[], context: LoadContext): Promise<VersionLayout> {
  const { scanner } = context;
  const problems: Problem[] = [];
  const records = await scanner.records(jsonFiles, 'coco', context.check, undefined, context.counts);
  const files = scanner.list();

  const classes: string[] = [];
  const classIndex = new Map<string, number>();
  const splits: string[] = [];
  type Planned = { split: string; image: string; jsonPath: string; w: number; h: number; anns: number[][] };
  const planned: Planned[] = [];
  const baseDirs = new Map<string, string>();
  for (const jsonPath of jsonFiles) {
    const record = records.get(jsonPath) as CocoRecord;
    if (record.problem) {
      // Other JSON files (configs, exports) are not defects; a broken one where annotations live is.
      if (/annotation|instances/i.test(jsonPath) || !record.problem.startsWith('not a COCO'))
        problems.push({ code: 'annotation_file_unreadable', path: jsonPath, detail: record.problem });
      continue;
    }
    const split = splitFromJsonPath(jsonPath);
    if (!splits.includes(split)) splits.push(split);
    const byId = new Map<number, number>();
    for (const [id, name] of record.categories) {
      let index = classIndex.get(name);
      if (index === undefined) {
        index = classes.length;
        classes.push(name);
        classIndex.set(name, index);
      }
      byId.set(id, index);
    }
    const base = pickBase(record, jsonPath, split, (p) => scanner.has(p));
    baseDirs.set(base, baseDirs.has(base) && baseDirs.get(base) !== split ? 'unassigned' : split);
    const annsByImage = new Map<number, number[][]>();
    let unknownImage = 0;
    const imageIds = new Set(record.images.map(([id]) => id));
    let badClass = 0;
    let firstBadClass: number | undefined;
    for (const [imageId, categoryId, x, y, w, h] of record.annotations) {
      if (!imageIds.has(imageId)) {
        unknownImage++;
        continue;
      }
      const cls = byId.get(categoryId);
      if (cls === undefined) {
        badClass++;
        firstBadClass ??= categoryId;
        continue;
      }
      let list = annsByImage.get(imageId);
      if (!list) {
        list = [];
        annsByImage.set(imageId, list);
      }
      list.push([cls, x, y, w, h]);
    }
    if (badClass > 0)
      problems.push({
        code: 'class_out_of_range',
        path: jsonPath,
        n: badClass,
        detail: `category_id ${firstBadClass}; known ids: ${[...byId.keys()].slice(0, 20).join(', ')}`,
      });
    if (unknownImage > 0)
      problems.push({
        code: 'malformed_label',
        path: jsonPath,
        n: unknownImage,
        detail: 'annotations whose image_id names no image',
      });
    for (const [id, fileName, w, h] of record.images) {
      const image = posix.normalize(posix.join(base || '.', fileName));
      if (image.startsWith('../') || !scanner.has(image)) {
        problems.push({ code: 'label_without_image', path: image, detail: `listed in ${jsonPath}` });
        continue;
      }
      planned.push({ split, image, jsonPath, w, h, anns: annsByImage.get(id) ?? [] });
    }
  }

  // Images on disk that no annotation file lists: unlabelled.
  const listed = new Set(planned.map((p) => p.image));
  const unlisted: Array<{ split: string; image: string }> = [];
  for (const file of files) {
    if (!isImagePath(file) || listed.has(file)) continue;
    for (const [base, split] of baseDirs) {
      if (under(base, file)) {
        unlisted.push({ split, image: file });
        break;
      }
    }
  }

  const allImages = [...planned.map((p) => p.image), ...unlisted.map((u) => u.image)];
  const infos = await scanner.records(allImages, 'image', context.check, context.progress, context.counts);
  const samples: Sample[] = [];
  for (const p of planned) {
    const info = infos.get(p.image);
    if (!info) continue;
    // Normalize by the size the annotation file states, else the header's.
    const w = p.w > 0 ? p.w : (info.width ?? Number.NaN);
    const h = p.h > 0 ? p.h : (info.height ?? Number.NaN);
    const boxes: number[] = [];
    for (const [cls, x, y, bw, bh] of p.anns as Array<[number, number, number, number, number]>)
      boxes.push(cls, (x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h);
    samples.push({
      split: p.split,
      image: p.image,
      label: p.jsonPath,
      labelled: true,
      boxes,
      info,
      labelKey: JSON.stringify(p.anns),
    });
  }
  for (const u of unlisted) {
    const info = infos.get(u.image);
    if (info)
      samples.push({ split: u.split, image: u.image, labelled: false, boxes: [], info, labelKey: '' });
  }
  if (samples.some((s) => s.split === 'unassigned') && !splits.includes('unassigned'))
    splits.push('unassigned');
  return { format: 'coco', classes, splits, samples, problems };
}

function pickBase(
  record: CocoRecord,
  jsonPath: string,
  split: string,
  exists: (p: string) => boolean,
): string {
  const jsonDir = dirOf(jsonPath);
  const parent = dirOf(jsonDir);
  const candidates = [
    jsonDir,
    `images/${split}`,
    split,
    'images',
    '',
    parent ? `${parent}/images` : 'images',
    parent ? `${parent}/images/${split}` : '',
  ];
  const probe = record.images.slice(0, 20).map(([, fileName]) => fileName);
  let best = jsonDir;
  let bestHits = 0;
  for (const candidate of new Set(candidates)) {
    const hits = probe.filter((f) => exists(posix.normalize(posix.join(candidate || '.', f)))).length;
    if (hits > bestHits) {
      best = candidate;
      bestHits = hits;
    }
  }
  return best === '.' ? '' : best;
}
