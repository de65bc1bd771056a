import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness, textOf } from '../__fixtures__/connect.ts';
import { colourOf, maxTiles } from '../contact-sheet.ts';

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(() => h.close());

type Sampled = {
  groups: Array<{
    group: string;
    available: number;
    samples: Array<{
      split: string;
      image: string;
      width?: number;
      class?: string;
      boxes: Array<{ class: string; box: number[] }>;
    }>;
  }>;
  legend?: Array<{ class: string; colour: string }>;
  contactSheet?: { images: number; width: number; height: number; bytes: number };
};

describe('datasets_sample_images', () => {
  it('picks examples per class with their boxes in pixels, the same for the same seed', async () => {
    const result = await h.call('datasets_sample_images', {
      dataset: 'yolo-parts',
      version: 'v1',
      perGroup: 2,
    });
    expect(result.isError).toBeFalsy();
    const sampled = result.structuredContent as Sampled;
    expect(sampled.groups.map((g) => [g.group, g.available, g.samples.length])).toEqual([
      ['dent', 7, 2],
      ['rust', 5, 2],
      ['scratch', 7, 2],
    ]);
    for (const group of sampled.groups)
      for (const sample of group.samples) expect(sample.boxes.map((b) => b.class)).toContain(group.group);
    const png = sampled.groups.flatMap((g) => g.samples).find((s) => s.image.endsWith('.png'));
    // A 0.25×0.25 box centred on a 64×48 image.
    expect(png?.boxes).toContainEqual(expect.objectContaining({ box: [24, 18, 16, 12] }));
    const again = await h.call('datasets_sample_images', {
      dataset: 'yolo-parts',
      version: 'v1',
      perGroup: 2,
    });
    expect(again.structuredContent).toEqual(result.structuredContent);
    const other = await h.call('datasets_sample_images', {
      dataset: 'yolo-parts',
      version: 'v1',
      perGroup: 2,
      seed: 'x',
    });
    expect(other.structuredContent).not.toEqual(result.structuredContent);
    expect(result.content).toHaveLength(1);
  });

  it('groups by split and filters by class', async () => {
    const result = await h.call('datasets_sample_images', {
      dataset: 'folders',
      version: 'v1',
      by: 'split',
      className: 'fox',
    });
    const sampled = result.structuredContent as Sampled;
    expect(sampled.groups.map((g) => [g.group, g.available])).toEqual([
      ['train', 3],
      ['val', 1],
    ]);
    expect(sampled.groups.flatMap((g) => g.samples).every((s) => s.class === 'fox')).toBe(true);
  });

  it('returns a PNG contact sheet with the boxes drawn in class colours', async () => {
    const result = await h.call('datasets_sample_images', {
      dataset: 'yolo-parts',
      version: 'v2',
      className: 'rust',
      perGroup: 4,
      contactSheet: true,
    });
    expect(result.isError).toBeFalsy();
    const image = result.content.find((c) => c.type === 'image');
    expect(image).toMatchObject({ type: 'image', mimeType: 'image/png' });
    const png = PNG.sync.read(Buffer.from((image as { data: string }).data, 'base64'));
    const sampled = result.structuredContent as Sampled;
    expect(sampled.contactSheet).toMatchObject({ images: 4, width: png.width, height: png.height });
    expect(png.width).toBeLessThanOrEqual(1024);
    expect(png.height).toBeLessThanOrEqual(1024);
    const [r, g, b] = colourOf(2);
    let rustPixels = 0;
    for (let i = 0; i < png.data.length; i += 4)
      if (png.data[i] === r && png.data[i + 1] === g && png.data[i + 2] === b) rustPixels++;
    // Four tiles, each with at least one box outline in the rust colour.
    expect(rustPixels).toBeGreaterThan(4 * 20);
    expect(sampled.legend).toContainEqual({ class: 'rust', colour: '#ffe119' });
    expect(textOf(result)).toContain('Contact sheet: 4 images');
  });

  it('bounds the sheet however many images are asked for', async () => {
    const result = await h.call('datasets_sample_images', {
      dataset: 'yolo-defects',
      by: 'split',
      perGroup: 10,
      contactSheet: true,
    });
    const sampled = result.structuredContent as Sampled;
    expect(sampled.contactSheet?.images).toBeLessThanOrEqual(maxTiles);
    expect(sampled.contactSheet?.images).toBe(sampled.groups.reduce((n, g) => n + g.samples.length, 0));
    // The corrupt images are drawn as placeholders, not failures.
    expect(result.isError).toBeFalsy();
  });

  it('names the classes and splits that exist when asked for one that does not', async () => {
    const badClass = await h.call('datasets_sample_images', { dataset: 'yolo-parts', className: 'rost' });
    expect(badClass.isError).toBe(true);
    expect(textOf(badClass)).toBe('class "rost" in yolo-parts/v2 not found; known: scratch, dent, rust.');
    const badSplit = await h.call('datasets_sample_images', { dataset: 'yolo-parts', split: 'test' });
    expect(badSplit.isError).toBe(true);
    expect(textOf(badSplit)).toBe('split "test" in yolo-parts/v2 not found; known: train, val.');
  });
});
