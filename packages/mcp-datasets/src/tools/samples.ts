import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type AnyTool, notFound } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { colourOf, maxTiles, renderContactSheet, type Tile } from '../contact-sheet.ts';
import type { VersionData } from '../datasets.ts';
import type { Sample } from '../formats/types.ts';
import {
  type DatasetsDeps,
  datasetName,
  defineDatasetsTool,
  progressOf,
  readOnly,
  versionName,
} from './define.ts';

const maxGroups = 24;

export const sampleTools: AnyTool<DatasetsDeps>[] = [
  defineDatasetsTool({
    name: 'datasets_sample_images',
    title: 'Sample images with their labels',
    description:
      'Picks a few example images per class or per split of one version, with their labels (class and box in pixels, x/y top-left). The pick is deterministic for a given seed. With contactSheet true it also returns one PNG image showing the picked images with boxes drawn in class colours (a legend maps colours to classes), for people who would rather look.',
    toolset: 'read',
    input: z.object({
      dataset: datasetName,
      version: versionName,
      by: z.enum(['class', 'split']).default('class').describe('group examples by class or by split'),
      perGroup: z.number().int().min(1).max(10).default(3).describe('examples per group'),
      split: z.string().max(100).optional().describe('only images of this split'),
      className: z.string().max(200).optional().describe('only this class (by name)'),
      contactSheet: z
        .boolean()
        .default(false)
        .describe('also return a PNG contact sheet of the picked images'),
      seed: z.string().max(100).default('0').describe('changes which images are picked'),
    }),
    output: z.object({
      dataset: z.string(),
      version: z.string(),
      groups: z.array(
        z.object({
          group: z.string(),
          available: z.number().describe('images in the group'),
          samples: z.array(
            z.object({
              split: z.string(),
              image: z.string().describe('path relative to the version folder'),
              width: z.number().optional(),
              height: z.number().optional(),
              problem: z.string().optional(),
              class: z.string().optional().describe('the class, for image classification'),
              boxes: z.array(
                z.object({
                  class: z.string(),
                  box: z
                    .array(z.number())
                    .describe(
                      '[x, y, width, height] in pixels (normalized 0–1 when the image size is unknown)',
                    ),
                }),
              ),
            }),
          ),
        }),
      ),
      groupsOmitted: z.number().optional(),
      legend: z.array(z.object({ class: z.string(), colour: z.string() })).optional(),
      contactSheet: z
        .object({ images: z.number(), width: z.number(), height: z.number(), bytes: z.number() })
        .optional(),
    }),
    annotations: readOnly,
    async handler(input, { store }, context) {
      const data = await store.load(input.dataset, input.version, progressOf(context));
      if (input.split !== undefined && !data.splits.includes(input.split))
        throw notFound(`split "${input.split}" in ${data.dataset}/${data.version}`, data.splits);
      let classFilter: number | undefined;
      if (input.className !== undefined) {
        classFilter = data.classes.indexOf(input.className);
        if (classFilter < 0)
          throw notFound(`class "${input.className}" in ${data.dataset}/${data.version}`, data.classes);
      }
      const pool = data.samples.filter(
        (s) =>
          (input.split === undefined || s.split === input.split) &&
          (classFilter === undefined || hasClass(s, classFilter)),
      );
      const groups = new Map<string, Sample[]>();
      const push = (group: string, sample: Sample) => {
        let list = groups.get(group);
        if (!list) {
          list = [];
          groups.set(group, list);
        }
        list.push(sample);
      };
      for (const sample of pool) {
        if (input.by === 'split') push(sample.split, sample);
        else
          for (const cls of classesOf(sample))
            if (classFilter === undefined || cls === classFilter)
              push(data.classes[cls] ?? String(cls), sample);
        if (input.by === 'class' && classesOf(sample).size === 0 && classFilter === undefined)
          push(sample.labelled ? '(no objects)' : '(unlabelled)', sample);
      }
      const ordered = [...groups].sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }));
      const kept = ordered.slice(0, maxGroups);
      const rank = (s: Sample) => createHash('sha1').update(`${input.seed}\0${s.image}`).digest('hex');
      const picked = kept.map(([group, list]) => ({
        group,
        available: list.length,
        samples: [...list]
          .map((s) => ({ s, r: rank(s) }))
          .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
          .slice(0, input.perGroup)
          .map(({ s }) => s),
      }));
      const structured: {
        dataset: string;
        version: string;
        groups: Array<{ group: string; available: number; samples: ReturnType<typeof describe>[] }>;
        groupsOmitted?: number;
        legend?: Array<{ class: string; colour: string }>;
        contactSheet?: { images: number; width: number; height: number; bytes: number };
      } = {
        dataset: data.dataset,
        version: data.version,
        groups: picked.map((g) => ({
          group: g.group,
          available: g.available,
          samples: g.samples.map((s) => describe(s, data)),
        })),
      };
      if (ordered.length > kept.length) structured.groupsOmitted = ordered.length - kept.length;
      const text = structured.groups
        .map(
          (g) =>
            `${g.group} (${g.available}): ${g.samples
              .map((s) => `${s.image}${s.boxes.length ? ` [${s.boxes.length} boxes]` : ''}`)
              .join(', ')}`,
        )
        .join('\n');
      if (!input.contactSheet) return { structured, text: text || 'No images match.' };

      const seen = new Set<string>();
      const tiles: Tile[] = [];
      for (const g of picked)
        for (const s of g.samples) {
          if (seen.has(s.image) || tiles.length >= maxTiles) continue;
          seen.add(s.image);
          tiles.push({
            path: join(data.dir, s.image),
            boxes: s.boxes,
            ...(s.classIndex !== undefined ? { classIndex: s.classIndex } : {}),
          });
        }
      const png = await renderContactSheet(tiles);
      structured.legend = data.classes
        .slice(0, 50)
        .map((name, i) => ({ class: name, colour: hex(colourOf(i)) }));
      structured.contactSheet = {
        images: tiles.length,
        width: png.readUInt32BE(16),
        height: png.readUInt32BE(20),
        bytes: png.length,
      };
      return {
        structured,
        text: `${text}\nContact sheet: ${tiles.length} images, in reading order of the groups above; box colours: ${structured.legend
          .slice(0, 12)
          .map((l) => `${l.class} ${l.colour}`)
          .join(', ')}.`,
        images: [{ data: png.toString('base64'), mimeType: 'image/png' }],
      };
    },
  }),
];

function classesOf(sample: Sample): Set<number> {
  const out = new Set<number>();
  if (sample.classIndex !== undefined) out.add(sample.classIndex);
  for (let i = 0; i < sample.boxes.length; i += 5) out.add(sample.boxes[i] as number);
  return out;
}

function hasClass(sample: Sample, cls: number): boolean {
  return classesOf(sample).has(cls);
}

function describe(sample: Sample, data: VersionData) {
  const { width, height, problem } = sample.info;
  const boxes = [];
  for (let i = 0; i < sample.boxes.length && boxes.length < 50; i += 5) {
    const [cls, cx, cy, w, h] = sample.boxes.slice(i, i + 5) as [number, number, number, number, number];
    const box =
      width && height
        ? [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height].map(
            (v) => Math.round(v * 10) / 10,
          )
        : [cx - w / 2, cy - h / 2, w, h].map((v) => Math.round(v * 1e4) / 1e4);
    boxes.push({ class: data.classes[cls] ?? String(cls), box });
  }
  return {
    split: sample.split,
    image: sample.image,
    ...(width !== undefined ? { width } : {}),
    ...(height !== undefined ? { height } : {}),
    ...(problem ? { problem } : {}),
    ...(sample.classIndex !== undefined ? { class: data.classes[sample.classIndex] ?? '' } : {}),
    boxes,
  };
}

function hex([r, g, b]: readonly [number, number, number]): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}
