import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness, textOf } from '../__fixtures__/connect.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
  // A version in no format this server knows.
  mkdirSync(join(h.root, 'yolo-parts', 'v3'));
  writeFileSync(join(h.root, 'yolo-parts', 'v3', 'README.txt'), 'notes only\n');
});
afterAll(() => h.close());

type Findings = {
  ok: boolean;
  errors: number;
  warnings: number;
  findings: Array<{ code: string; count: number; severity: string; examples: string[] }>;
};
const counts = (result: { structuredContent?: unknown }) =>
  Object.fromEntries((result.structuredContent as Findings).findings.map((f) => [f.code, f.count]));

describe('datasets_get_stats', () => {
  it('counts a YOLO version: splits, classes, boxes per image, box sizes, image sizes, imbalance', async () => {
    const result = await h.call('datasets_get_stats', { dataset: 'yolo-parts', version: 'v1' });
    expect(result.isError).toBeFalsy();
    const stats = result.structuredContent as Record<string, unknown>;
    expect(stats).toMatchObject({
      dataset: 'yolo-parts',
      version: 'v1',
      format: 'yolo',
      classCount: 3,
      totals: { images: 12, labelled: 12, unlabelled: 0, empty: 0, instances: 19, corrupt: 0 },
      splits: [
        { split: 'train', images: 9, labelled: 9, instances: 14 },
        { split: 'val', images: 3, labelled: 3, instances: 5 },
      ],
      classes: [
        { id: 0, name: 'scratch', instances: 7, images: 7 },
        { id: 1, name: 'dent', instances: 7, images: 7 },
        { id: 2, name: 'rust', instances: 5, images: 5 },
      ],
      // 16×12 and 20×15 px boxes are small; 57.6×43.2 and 72×54 px are medium.
      boxSizes: { small: 12, medium: 7, large: 0, unknown: 0 },
      boxesPerImage: { mean: 1.583, median: 2, max: 2 },
      imageSizes: {
        distinct: 2,
        top: [
          { width: 64, height: 48, images: 8 },
          { width: 80, height: 60, images: 4 },
        ],
      },
      imbalance: { mostCommon: 'scratch', leastCommon: 'rust', ratio: 1.4 },
    });
    expect(textOf(result)).toContain('12 images, 12 labelled');
  });

  it('counts classes per folder for image classification and reads the latest version by default', async () => {
    const result = await h.call('datasets_get_stats', { dataset: 'folders' });
    const stats = result.structuredContent as Record<string, unknown>;
    expect(stats).toMatchObject({
      version: 'v2',
      format: 'image-folder',
      totals: { images: 16, labelled: 15, unlabelled: 1, corrupt: 1 },
      classes: [
        { name: 'cat', instances: 5 },
        { name: 'dog', instances: 5 },
        { name: 'fox', instances: 5 },
      ],
    });
    expect(stats.boxSizes).toBeUndefined();
  });

  it('uses COCO pixel boxes and category names', async () => {
    const result = await h.call('datasets_get_stats', { dataset: 'coco-parts', version: 'v1' });
    expect(result.structuredContent).toMatchObject({
      format: 'coco',
      totals: { images: 8, instances: 12 },
      classes: [
        { name: 'bolt', instances: 8 },
        { name: 'nut', instances: 4 },
      ],
      boxSizes: { small: 8, medium: 4, large: 0 },
    });
  });

  it('answers a second call from cache', async () => {
    await h.call('datasets_get_stats', { dataset: 'manifested', version: 'jan' });
    const again = await h.call('datasets_get_stats', { dataset: 'manifested', version: 'jan' });
    expect((again.structuredContent as { scan: unknown }).scan).toMatchObject({ read: 0, walked: false });
  });

  it('reports scan progress to a client that asks for it', async () => {
    const progress: number[] = [];
    await h.client.callTool(
      { name: 'datasets_get_stats', arguments: { dataset: 'coco-parts', version: 'v2' } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(progress.length).toBeGreaterThan(0);
  });

  it('lists the versions that exist when the version is unknown', async () => {
    const result = await h.call('datasets_get_stats', { dataset: 'yolo-parts', version: 'v9' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      'version "v9" of dataset "yolo-parts" not found; known: v1, v2, v3. List them with datasets_list_versions.',
    );
  });

  it('says which formats it looks for when a version has none', async () => {
    const result = await h.call('datasets_get_stats', { dataset: 'yolo-parts', version: 'v3' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /No dataset format recognised in yolo-parts\/v3: expected a YOLO data.yaml/,
    );
  });
});

describe('datasets_validate_version', () => {
  it('finds nothing on clean versions of every format', async () => {
    for (const [dataset, version] of [
      ['yolo-parts', 'v1'],
      ['yolo-parts', 'v2'],
      ['coco-parts', 'v1'],
      ['folders', 'v1'],
      ['manifested', 'feb'],
    ]) {
      const result = await h.call('datasets_validate_version', { dataset, version });
      expect(result.structuredContent, `${dataset}/${version}`).toMatchObject({
        ok: true,
        errors: 0,
        warnings: 0,
        findings: [],
      });
    }
  });

  it('finds every defect planted in a YOLO version, with counts', async () => {
    const result = await h.call('datasets_validate_version', { dataset: 'yolo-defects' });
    expect(counts(result)).toEqual({
      corrupt_image: 2,
      class_out_of_range: 2,
      malformed_label: 1,
      duplicate_image: 1,
      split_leakage: 1,
      missing_label: 2,
      label_without_image: 1,
      box_degenerate: 1,
      box_out_of_bounds: 1,
      label_file_too_large: 1,
    });
    const findings = (result.structuredContent as Findings).findings;
    const examples = (code: string) => findings.find((f) => f.code === code)?.examples ?? [];
    expect(examples('corrupt_image')).toEqual([
      'images/train/cut.png (truncated: PNG end chunk (IEND) missing)',
      'images/train/text.jpg (not a JPEG, PNG, BMP, WebP or GIF (bad signature))',
    ]);
    expect(examples('split_leakage')).toEqual([
      'train:images/train/train-001.png = val:images/val/leaked.png',
    ]);
    expect(examples('label_without_image')).toEqual(['labels/train/orphan.txt']);
    expect(examples('missing_label')).toEqual(['images/train/nolabel-a.png', 'images/val/nolabel-b.png']);
    expect(examples('class_out_of_range')).toEqual([
      'labels/train/badclass.txt (class 7; valid ids are 0–2)',
    ]);
    expect((result.structuredContent as Findings).ok).toBe(false);
    expect(findings[0]?.severity).toBe('error');
  });

  it('finds every defect planted in a COCO version, with counts', async () => {
    const result = await h.call('datasets_validate_version', { dataset: 'coco-parts', version: 'v2' });
    expect(counts(result)).toEqual({
      corrupt_image: 1,
      class_out_of_range: 1,
      duplicate_image: 1,
      split_leakage: 1,
      missing_label: 1,
      label_without_image: 1,
      box_degenerate: 1,
      box_out_of_bounds: 1,
    });
  });

  it('finds every defect planted in an image-folder version, with counts', async () => {
    const result = await h.call('datasets_validate_version', { dataset: 'folders', version: 'v2' });
    expect(counts(result)).toEqual({
      corrupt_image: 1,
      duplicate_image: 1,
      split_leakage: 1,
      missing_label: 1,
    });
    const warnings = await h.call('datasets_validate_version', {
      dataset: 'folders',
      version: 'v2',
      severity: 'warning',
    });
    expect(counts(warnings)).toEqual({ duplicate_image: 1, missing_label: 1 });
  });

  it('names the datasets that exist when the dataset is unknown', async () => {
    const result = await h.call('datasets_validate_version', { dataset: 'yolo' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^dataset "yolo" not found; known: coco-parts, folders, manifested, yolo-defects, yolo-parts\./,
    );
  });
});

describe('datasets_diff_versions', () => {
  it('counts changed samples and flags a large shift in classes and box sizes', async () => {
    const result = await h.call('datasets_diff_versions', { dataset: 'yolo-parts', from: 'v1', to: 'v2' });
    expect(result.isError).toBeFalsy();
    const diff = result.structuredContent as {
      samples: Record<string, number>;
      classes: Array<{ name: string; from: number; to: number; delta: number }>;
      classShift: { psi: number; jsd: number; level: string; summary: string };
      boxSizeShift: { level: string; from: Record<string, number>; to: Record<string, number> };
      flags: string[];
      examples: Record<string, string[]>;
    };
    expect(diff.samples).toEqual({
      from: 12,
      to: 23,
      added: 12,
      removed: 1,
      imageChanged: 1,
      labelsChanged: 1,
      unchanged: 9,
      addedWithKnownContent: 0,
    });
    expect(diff.examples.removed).toEqual(['val:images/val/val-002.jpg']);
    expect(diff.examples.labelsChanged).toEqual(['train:images/train/train-003.png']);
    expect(diff.examples.imageChanged).toEqual(['train:images/train/train-004.png']);
    expect(Object.fromEntries(diff.classes.map((c) => [c.name, [c.from, c.to]]))).toEqual({
      scratch: [7, 5],
      dent: [7, 7],
      rust: [5, 17],
    });
    // Shares 7/19, 7/19, 5/19 → 5/29, 7/29, 17/29.
    const p = [7 / 19, 7 / 19, 5 / 19];
    const q = [5 / 29, 7 / 29, 17 / 29];
    const expectedPsi = p.reduce((s, a, i) => s + ((q[i] as number) - a) * Math.log((q[i] as number) / a), 0);
    expect(diff.classShift.psi).toBeCloseTo(expectedPsi, 3);
    expect(diff.classShift.level).toBe('large');
    expect(diff.classShift.summary).toMatch(/^The class mix shifted a lot .*rust 26% → 59%/);
    expect(diff.boxSizeShift).toMatchObject({
      level: 'large',
      from: { small: 12, medium: 7, large: 0 },
      to: { large: 12 },
    });
    expect(diff.flags).toHaveLength(2);
  });

  it('compares the latest version with the one before by default, and finds nothing between equal versions', async () => {
    const result = await h.call('datasets_diff_versions', { dataset: 'manifested', from: 'feb', to: 'feb' });
    expect(result.structuredContent).toMatchObject({
      samples: { added: 0, removed: 0, imageChanged: 0, labelsChanged: 0, unchanged: 8 },
      classShift: { psi: 0, level: 'stable' },
      flags: [],
    });
    const defaults = await h.call('datasets_diff_versions', { dataset: 'manifested' });
    expect(defaults.structuredContent).toMatchObject({ from: 'jan', to: 'feb' });
  });

  it('explains what to do when there is nothing to compare with', async () => {
    const result = await h.call('datasets_diff_versions', { dataset: 'yolo-defects' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      'Version "current" is the first of dataset "yolo-defects"; name a version to compare with (known: current).',
    );
    const unknown = await h.call('datasets_diff_versions', { dataset: 'yolo-parts', from: 'v0', to: 'v2' });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/version "v0" of dataset "yolo-parts" not found; known: v1, v2, v3/);
  });
});
