import { type AnyTool, ToolError } from '@nightshift/mcp-kit';
import { z } from 'zod';
import { computeStats, diffVersions, type Finding, validate } from '../analysis.ts';
import {
  type DatasetsDeps,
  datasetName,
  defineDatasetsTool,
  progressOf,
  readOnly,
  scanInfo,
  versionName,
} from './define.ts';

const maxClassRows = 100;

const shiftSchema = z.object({
  psi: z.number().describe('population stability index: < 0.1 stable, 0.1–0.25 moderate, > 0.25 large'),
  jsd: z.number().describe('Jensen–Shannon divergence, base 2 (0 identical, 1 disjoint)'),
  level: z.enum(['stable', 'moderate', 'large']),
  summary: z.string(),
});
const bucketCounts = z.object({ small: z.number(), medium: z.number(), large: z.number() });

export const analysisTools: AnyTool<DatasetsDeps>[] = [
  defineDatasetsTool({
    name: 'datasets_get_stats',
    title: 'Statistics of a dataset version',
    description:
      'Counts for one version: images, labelled, unlabelled and empty images per split; instances and images per class; boxes per image; box sizes (small < 32², medium < 96², large, in pixels as COCO defines them); image sizes read from file headers; class imbalance. The first call scans the version (progress is reported); later calls reuse the per-file cache and re-read only changed files.',
    toolset: 'read',
    input: z.object({ dataset: datasetName, version: versionName }),
    output: z.object({
      dataset: z.string(),
      version: z.string(),
      format: z.string(),
      classCount: z.number(),
      totals: z.object({
        images: z.number(),
        labelled: z.number(),
        unlabelled: z.number(),
        empty: z.number(),
        instances: z.number(),
        corrupt: z.number(),
      }),
      splits: z.array(
        z.object({
          split: z.string(),
          images: z.number(),
          labelled: z.number(),
          unlabelled: z.number(),
          empty: z.number(),
          instances: z.number(),
          corrupt: z.number(),
        }),
      ),
      classes: z
        .array(z.object({ id: z.number(), name: z.string(), instances: z.number(), images: z.number() }))
        .describe(`classes by instances, at most ${maxClassRows}`),
      classesOmitted: z.number().optional(),
      boxesPerImage: z
        .object({
          mean: z.number(),
          median: z.number(),
          max: z.number(),
          histogram: z.array(z.object({ boxes: z.string(), images: z.number() })),
        })
        .optional(),
      boxSizes: z
        .object({ small: z.number(), medium: z.number(), large: z.number(), unknown: z.number() })
        .optional(),
      imageSizes: z.object({
        distinct: z.number(),
        unknown: z.number(),
        top: z.array(z.object({ width: z.number(), height: z.number(), images: z.number() })),
        minWidth: z.number().optional(),
        maxWidth: z.number().optional(),
        minHeight: z.number().optional(),
        maxHeight: z.number().optional(),
      }),
      imbalance: z.object({
        mostCommon: z.string().optional(),
        leastCommon: z.string().optional(),
        ratio: z.number().optional(),
        classesWithoutInstances: z.array(z.string()),
        summary: z.string(),
      }),
      scan: scanInfo,
    }),
    annotations: readOnly,
    async handler({ dataset, version }, { store }, context) {
      const data = await store.load(dataset, version, progressOf(context));
      const stats = store.derive(data, 'stats', () => computeStats(data));
      const classes = [...stats.classes].sort((a, b) => b.instances - a.instances || a.id - b.id);
      const shown = classes.slice(0, maxClassRows);
      const structured = {
        dataset: data.dataset,
        version: data.version,
        ...stats,
        imbalance: {
          ...stats.imbalance,
          classesWithoutInstances: stats.imbalance.classesWithoutInstances.slice(0, 50),
        },
        classes: shown,
        ...(classes.length > shown.length ? { classesOmitted: classes.length - shown.length } : {}),
        scan: data.scan,
      };
      const t = stats.totals;
      const lines = [
        `${data.dataset}/${data.version} (${stats.format}, ${stats.classCount} classes): ${t.images} images, ${t.labelled} labelled, ${t.unlabelled} unlabelled, ${t.empty} empty, ${t.instances} instances, ${t.corrupt} corrupt.`,
        `Splits: ${stats.splits.map((s) => `${s.split} ${s.images} images / ${s.instances} instances`).join('; ')}.`,
        `Classes: ${shown
          .slice(0, 20)
          .map((c) => `${c.name} ${c.instances}`)
          .join(', ')}${classes.length > 20 ? ', …' : ''}.`,
        `Imbalance: ${stats.imbalance.summary}.`,
      ];
      if (stats.boxSizes)
        lines.push(
          `Box sizes: ${stats.boxSizes.small} small, ${stats.boxSizes.medium} medium, ${stats.boxSizes.large} large${stats.boxSizes.unknown ? `, ${stats.boxSizes.unknown} unknown` : ''}; boxes per image mean ${stats.boxesPerImage?.mean}, max ${stats.boxesPerImage?.max}.`,
        );
      lines.push(
        `Image sizes: ${stats.imageSizes.top
          .slice(0, 3)
          .map((s) => `${s.width}×${s.height} (${s.images})`)
          .join(
            ', ',
          )}${stats.imageSizes.distinct > 3 ? ` and ${stats.imageSizes.distinct - 3} more sizes` : ''}.`,
        `Scan: ${data.scan.read} files read, ${data.scan.cached} from cache, ${data.scan.ms} ms.`,
      );
      return { structured, text: lines.join('\n') };
    },
  }),

  defineDatasetsTool({
    name: 'datasets_validate_version',
    title: 'Validate a dataset version',
    description:
      'Checks one version for defects and returns one finding per kind with counts and up to five example paths: missing label files, labels without images, class ids out of range, malformed label lines, boxes outside the image or degenerate, corrupt or unreadable images (truncated, bad signature, header that does not parse), exact duplicate images, the same image in two splits (leakage), oversized label files, classes with no training instances. ok is true when no error-level finding exists.',
    toolset: 'read',
    input: z.object({
      dataset: datasetName,
      version: versionName,
      severity: z
        .enum(['error', 'warning'])
        .optional()
        .describe('only findings of this severity (default: both)'),
    }),
    output: z.object({
      dataset: z.string(),
      version: z.string(),
      format: z.string(),
      ok: z.boolean().describe('true when there is no error-level finding'),
      errors: z.number().describe('error-level findings'),
      warnings: z.number().describe('warning-level findings'),
      findings: z.array(
        z.object({
          code: z.string(),
          severity: z.enum(['error', 'warning']),
          count: z.number(),
          message: z.string(),
          examples: z.array(z.string()),
        }),
      ),
      scan: scanInfo,
    }),
    annotations: readOnly,
    async handler({ dataset, version, severity }, { store }, context) {
      const data = await store.load(dataset, version, progressOf(context));
      const all = store.derive<Finding[]>(data, 'findings', () => validate(data));
      const findings = severity ? all.filter((f) => f.severity === severity) : all;
      const errors = all.filter((f) => f.severity === 'error').length;
      const warnings = all.length - errors;
      const text =
        findings.length === 0
          ? `${data.dataset}/${data.version}: no ${severity ? `${severity}-level ` : ''}findings in ${data.samples.length} images.`
          : [
              `${data.dataset}/${data.version}: ${errors} error and ${warnings} warning finding(s).`,
              ...findings.map(
                (f) => `[${f.severity}] ${f.code}: ${f.message}; e.g. ${f.examples.slice(0, 3).join('; ')}`,
              ),
            ].join('\n');
      return {
        structured: {
          dataset: data.dataset,
          version: data.version,
          format: data.format,
          ok: errors === 0,
          errors,
          warnings,
          findings,
          scan: data.scan,
        },
        text,
      };
    },
  }),

  defineDatasetsTool({
    name: 'datasets_diff_versions',
    title: 'Compare two dataset versions',
    description:
      'What changed between two versions of a dataset: samples added, removed, with changed image content or changed labels (matched by split and path, content compared by hash); per-class instance deltas; distribution shift of classes and of box sizes as PSI and Jensen–Shannon divergence, with a plain-language flag when a shift is moderate or large. Defaults compare the latest version with the one before it.',
    toolset: 'read',
    input: z.object({
      dataset: datasetName,
      from: z
        .string()
        .min(1)
        .max(200)
        .optional()
        .describe('the older version; default: the version before `to`'),
      to: z.string().min(1).max(200).optional().describe('the newer version; default: the latest'),
    }),
    output: z.object({
      dataset: z.string(),
      from: z.string(),
      to: z.string(),
      samples: z.object({
        from: z.number(),
        to: z.number(),
        added: z.number(),
        removed: z.number(),
        imageChanged: z.number(),
        labelsChanged: z.number(),
        unchanged: z.number(),
        addedWithKnownContent: z
          .number()
          .describe('added paths whose image content existed in `from` under another path'),
      }),
      examples: z.object({
        added: z.array(z.string()),
        removed: z.array(z.string()),
        imageChanged: z.array(z.string()),
        labelsChanged: z.array(z.string()),
      }),
      splits: z.array(z.object({ split: z.string(), from: z.number(), to: z.number() })),
      classes: z
        .array(
          z.object({
            name: z.string(),
            from: z.number(),
            to: z.number(),
            delta: z.number(),
            fromShare: z.number(),
            toShare: z.number(),
          }),
        )
        .describe(`classes by change in share, at most ${maxClassRows}`),
      classShift: shiftSchema,
      boxSizeShift: shiftSchema.extend({ from: bucketCounts, to: bucketCounts }).optional(),
      flags: z
        .array(z.string())
        .describe('plain-language notes on large changes; empty when nothing stands out'),
    }),
    annotations: readOnly,
    async handler({ dataset, from, to }, { store }, context) {
      const ref = await store.dataset(dataset);
      const names = ref.versions.map((v) => v.name);
      const toName = (await store.version(dataset, to)).version.name;
      const toIndex = names.indexOf(toName);
      const fromName = from ?? names[toIndex - 1];
      if (fromName === undefined)
        throw new ToolError(
          'invalid_input',
          `Version "${toName}" is the first of dataset "${dataset}"; name a version to compare with (known: ${names.join(', ')}).`,
        );
      const progress = progressOf(context);
      const a = await store.load(dataset, fromName, progress);
      const b = await store.load(dataset, toName, progress);
      const diff = diffVersions(
        a,
        b,
        store.derive(a, 'stats', () => computeStats(a)),
        store.derive(b, 'stats', () => computeStats(b)),
      );
      const s = diff.samples;
      const lines = [
        `${dataset} ${fromName} → ${toName}: ${s.from} → ${s.to} images; ${s.added} added, ${s.removed} removed, ${s.imageChanged} with changed images, ${s.labelsChanged} with changed labels.`,
        diff.classShift.summary,
        ...(diff.boxSizeShift ? [diff.boxSizeShift.summary] : []),
        `Largest class changes: ${diff.classes
          .slice(0, 5)
          .map((c) => `${c.name} ${c.from} → ${c.to}`)
          .join(', ')}.`,
      ];
      if (diff.flags.length) lines.push(`Flags: ${diff.flags.join(' ')}`);
      return {
        structured: {
          dataset,
          from: fromName,
          to: toName,
          ...diff,
          classes: diff.classes.slice(0, maxClassRows),
        },
        text: lines.join('\n'),
      };
    },
  }),
];
