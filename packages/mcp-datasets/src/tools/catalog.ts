import { type AnyTool, paginate } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { manifestFile } from '../datasets.ts';
import { type DatasetsDeps, datasetName, defineDatasetsTool, progressOf, readOnly } from './define.ts';

const formatEnum = z.enum(['yolo', 'coco', 'image-folder']);

export const catalogTools: AnyTool<DatasetsDeps>[] = [
  defineDatasetsTool({
    name: 'datasets_list_datasets',
    title: 'List datasets',
    description:
      'Lists the datasets under the datasets root: name, format of the latest version (yolo, coco or image-folder), how many versions and which is latest. Cheap (reads only folder names and top-level files). Start here to learn the names the other datasets_ tools take.',
    toolset: 'read',
    input: z.object({
      limit: z.number().int().min(1).max(200).default(50).describe('datasets per page'),
      cursor: z.string().optional().describe('nextCursor from a previous call, to get the next page'),
    }),
    output: z.object({
      root: z.string(),
      total: z.number(),
      datasets: z.array(
        z.object({
          name: z.string(),
          format: formatEnum.optional(),
          versionCount: z.number(),
          latest: z.string().optional(),
          versions: z.array(z.string()).describe('up to the 10 newest version names'),
          manifest: z.boolean(),
          problem: z.string().optional(),
        }),
      ),
      nextCursor: z.string().optional(),
    }),
    annotations: readOnly,
    async handler({ limit, cursor }, { store }) {
      const all = await store.listDatasets();
      const page = paginate(all, { limit, cursor });
      const datasets = page.items.map((d) => {
        const latest = d.versions.at(-1);
        const format = latest ? store.detectFormat(latest.dir) : undefined;
        return {
          name: d.name,
          ...(format ? { format } : {}),
          versionCount: d.versions.length,
          ...(latest ? { latest: latest.name } : {}),
          versions: d.versions.slice(-10).map((v) => v.name),
          manifest: d.manifest,
          ...(d.problem ? { problem: d.problem } : {}),
        };
      });
      const text =
        datasets.length === 0
          ? `No datasets under ${store.root}. Each dataset is a folder there, with one sub-folder per version (or a ${manifestFile}).`
          : datasets
              .map(
                (d) =>
                  `${d.name}: ${d.format ?? 'unknown format'}, ${d.versionCount} version(s)${d.latest ? `, latest ${d.latest}` : ''}${d.problem ? ` — ${d.problem}` : ''}`,
              )
              .join('\n');
      return {
        structured: {
          root: store.root,
          total: page.total,
          datasets,
          ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
        },
        text,
      };
    },
  }),

  defineDatasetsTool({
    name: 'datasets_list_versions',
    title: 'List versions of a dataset',
    description:
      "Lists a dataset's versions, oldest first: name, date, note (from versions.yaml), format, and images per split. Counting images scans each version once (progress is reported; later calls use the cache). Use the names with datasets_get_stats, datasets_validate_version and datasets_diff_versions.",
    toolset: 'read',
    input: z.object({
      dataset: datasetName,
      limit: z.number().int().min(1).max(50).default(20).describe('how many of the newest versions to list'),
      counts: z
        .boolean()
        .default(true)
        .describe('count images per split (scans each listed version; false lists names and dates only)'),
    }),
    output: z.object({
      dataset: z.string(),
      total: z.number(),
      versions: z.array(
        z.object({
          name: z.string(),
          date: z.string().optional(),
          note: z.string().optional(),
          latest: z.boolean(),
          format: formatEnum.optional(),
          splits: z.array(z.object({ split: z.string(), images: z.number() })).optional(),
          classes: z.number().optional(),
          problem: z.string().optional(),
        }),
      ),
    }),
    annotations: readOnly,
    async handler({ dataset, limit, counts }, { store }, context) {
      const ref = await store.dataset(dataset);
      const listed = ref.versions.slice(-limit);
      const versions = [];
      for (const v of listed) {
        const row: {
          name: string;
          date?: string;
          note?: string;
          latest: boolean;
          format?: 'yolo' | 'coco' | 'image-folder';
          splits?: Array<{ split: string; images: number }>;
          classes?: number;
          problem?: string;
        } = { name: v.name, latest: v === ref.versions.at(-1) };
        if (v.date) row.date = v.date;
        if (v.note) row.note = v.note;
        const format = store.detectFormat(v.dir);
        if (format) row.format = format;
        if (counts) {
          try {
            const data = await store.load(dataset, v.name, progressOf(context));
            row.format = data.format;
            row.classes = data.classes.length;
            row.splits = data.splits.map((split) => ({
              split,
              images: data.samples.filter((s) => s.split === split).length,
            }));
          } catch (error) {
            row.problem = (error as Error).message;
          }
        }
        versions.push(row);
      }
      const text = versions
        .map(
          (v) =>
            `${v.name}${v.latest ? ' (latest)' : ''}: ${v.date ?? 'no date'}, ${v.format ?? 'unknown format'}${v.splits ? `, ${v.splits.map((s) => `${s.split} ${s.images}`).join(', ')}` : ''}${v.note ? ` — ${v.note}` : ''}${v.problem ? ` — ${v.problem}` : ''}`,
        )
        .join('\n');
      return {
        structured: { dataset, total: ref.versions.length, versions },
        text: text || `Dataset ${dataset} has no versions.`,
      };
    },
  }),
];
