import { isImagePath } from './paths.ts';
import { type LoadContext, type Sample, splitNames, type VersionLayout } from './types.ts';

/** True when some image sits at least one folder deep (a class folder). */
export function looksLikeImageFolder(files: readonly string[]): boolean {
  return files.some((f) => f.includes('/') && isImagePath(f));
}

/**
 * Image classification by folders: `<split>/<class>/<image>` when the top folders are split
 * names (train, val, test, …), else `<class>/<image>` as one split named `all`. An image
 * outside any class folder is unlabelled.
 */
export async function loadImageFolder(context: LoadContext): Promise<VersionLayout> {
  const files = context.scanner.list().filter(isImagePath);
  const tops = new Set(files.filter((f) => f.includes('/')).map((f) => f.slice(0, f.indexOf('/'))));
  const bySplit = [...tops].some((t) => splitNames.has(t.toLowerCase()));
  const planned: Array<{ split: string; image: string; className?: string }> = [];
  for (const image of files) {
    const parts = image.split('/');
    if (bySplit) {
      const split = parts[0] as string;
      if (parts.length < 2 || !splitNames.has(split.toLowerCase())) continue;
      planned.push(parts.length >= 3 ? { split, image, className: parts[1] as string } : { split, image });
    } else {
      planned.push(
        parts.length >= 2 ? { split: 'all', image, className: parts[0] as string } : { split: 'all', image },
      );
    }
  }
  const classes = [
    ...new Set(planned.map((p) => p.className).filter((c): c is string => c !== undefined)),
  ].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const splits = [...new Set(planned.map((p) => p.split))].sort(splitOrder);
  const infos = await context.scanner.records(
    planned.map((p) => p.image),
    'image',
    context.check,
    context.progress,
    context.counts,
  );
  const samples: Sample[] = [];
  for (const p of planned) {
    const info = infos.get(p.image);
    if (!info) continue;
    const classIndex = p.className === undefined ? undefined : index.get(p.className);
    samples.push({
      split: p.split,
      image: p.image,
      labelled: classIndex !== undefined,
      ...(classIndex !== undefined ? { classIndex } : {}),
      boxes: [],
      info,
      labelKey: p.className ?? '',
    });
  }
  return { format: 'image-folder', classes, splits, samples, problems: [] };
}

const order = ['train', 'val', 'valid', 'validation', 'eval', 'test'];
export function splitOrder(a: string, b: string): number {
  const ia = order.indexOf(a.toLowerCase());
  const ib = order.indexOf(b.toLowerCase());
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
}
