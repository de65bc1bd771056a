#!/usr/bin/env node
// The brief is Nightshift's judgment; this makes it measurable. It plays labelled event streams
// (stories/*.json: each event marked "speak" or "silent", failures with the facts a right
// diagnosis names) through the real host, one event per turn, and prints per story and in total
// the precision and recall of speaking, messages per 100 events, and diagnosis hits.
//
//   node bench/judgment/run.mjs --config nightshift.config.yaml   measure the configured model
//   node bench/judgment/run.mjs                                   prove the harness (scripted oracle)
//   node bench/judgment/run.mjs --noise 0.25                      ... with a scripted model that errs
//
// With --config the servers and model of that config are used (any Anthropic or OpenAI-compatible
// endpoint); the data directory is a fresh temporary one so the bench leaves no trace.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const here = new URL('.', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    stories: { type: 'string' },
    noise: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
  },
});

export function loadStories(names) {
  const dir = join(here, 'stories');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
    .filter((s) => !names || names.includes(s.name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * A scripted model that answers from the labels, wrong on a deterministic share of events
 * (`noise`). It proves the harness: its scores are known in advance.
 */
export function oracleModel(stories, noise) {
  const byId = new Map(stories.flatMap((s) => s.events.map((e) => [e.id, { event: e, story: s }])));
  let n = 0;
  return {
    id: `scripted-oracle(noise=${noise})`,
    async complete(request) {
      const last = [...request.messages].reverse().find((m) => m.role === 'user');
      const ids = [...(last?.content ?? '').matchAll(/"id":"([^"]+)"/g)].map((m) => m[1]);
      const hits = ids.map((id) => byId.get(id)).filter(Boolean);
      const speak = hits.some((h) => h.event.label === 'speak');
      const flip = noise > 0 && (n++ * 0.618034) % 1 < noise;
      const facts = hits.flatMap((h) =>
        h.event.label === 'speak' ? h.story.diagnosis.map((group) => group[0]) : [],
      );
      const text =
        speak !== flip
          ? `${hits[0]?.event.run ?? 'run'} — ${hits[0]?.event.type ?? 'event'} ${facts.join(' ')}`.trim()
          : '[silent]';
      return { text, toolCalls: [], usage: { inputTokens: 0, outputTokens: 0 }, stopReason: 'end' };
    },
  };
}

export function score(results) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let spoke = 0;
  for (const r of results) {
    if (r.spoke) spoke++;
    if (r.spoke && r.label === 'speak') tp++;
    if (r.spoke && r.label === 'silent') fp++;
    if (!r.spoke && r.label === 'speak') fn++;
  }
  return {
    events: results.length,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    per100: (100 * spoke) / Math.max(1, results.length),
  };
}

/** Every group of the story's diagnosis needs one of its terms in what was said. */
export function diagnosisHits(story, texts) {
  const said = texts.join('\n').toLowerCase();
  const hits = story.diagnosis.filter((group) =>
    group.some((term) => said.includes(term.toLowerCase())),
  ).length;
  return { hits, of: story.diagnosis.length };
}

async function main() {
  const hostModule = await import(new URL('../../packages/agent-host/dist/index.js', import.meta.url));
  const stories = loadStories(values.stories?.split(','));
  const dataDir = mkdtempSync(join(tmpdir(), 'nightshift-judgment-'));
  const config = values.config
    ? { ...hostModule.loadConfig(values.config), dataDir }
    : hostModule.parseConfig(
        `dataDir: ${JSON.stringify(dataDir)}\nbrief: ${JSON.stringify(join(here, '..', '..', 'brief.md'))}\n`,
      );
  const model = values.config ? undefined : oracleModel(stories, Number(values.noise));
  const host = await hostModule.createHost(config, { ...(model ? { model } : {}), log: () => undefined });
  const rows = [];
  const all = [];
  let hitSum = 0;
  let hitOf = 0;
  try {
    for (const story of stories) {
      const results = [];
      const texts = [];
      const conversationId = `judgment-${story.name}`;
      for (const event of story.events) {
        const turn = await host.runEventTurn({
          conversationId,
          events: [
            {
              id: event.id,
              runKey: event.run,
              type: event.type,
              payload: event.payload,
              receivedAt: new Date().toISOString(),
            },
          ],
        });
        results.push({ label: event.label, spoke: !turn.silent });
        if (!turn.silent) texts.push(turn.text);
      }
      const s = score(results);
      const d = diagnosisHits(story, texts);
      hitSum += d.hits;
      hitOf += d.of;
      all.push(...results);
      rows.push({ story: story.name, ...s, diagnosis: d.of ? `${d.hits}/${d.of}` : '—' });
    }
  } finally {
    await host.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const total = { story: 'total', ...score(all), diagnosis: `${hitSum}/${hitOf}` };
  rows.push(total);
  if (values.json) {
    console.log(JSON.stringify({ model: model?.id ?? config.model?.provider, rows }, null, 2));
    return;
  }
  console.log(`model: ${model?.id ?? `${config.model?.provider}:${config.model?.name}`}`);
  console.log('| story | events | precision | recall | messages/100 events | diagnosis hits |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.story} | ${r.events} | ${r.precision.toFixed(2)} | ${r.recall.toFixed(2)} | ${r.per100.toFixed(1)} | ${r.diagnosis} |`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
