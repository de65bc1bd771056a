#!/usr/bin/env node
// `pnpm demo`: replays the story Nightshift is built around, through the real host, the real
// MCP servers, a real training job on the local queue and the real signed event intake, with a
// scripted model as the reasoning core:
//
//   a job reports epochs (silence) → a new best (one notification) → CUDA OOM at epoch 12
//   (diagnosis from the job log, the config in git and the MLflow run → a one-line config change
//   held as a proposal) → a person answers "kör på" → the commit is pushed → the job is requeued
//   → the first milestone of the new attempt is notified.
//
//   node examples/factory/demo/run.mjs [--viewer-first] [--keep]
//
// With --viewer-first a viewer says "kör på" before the approver does: nothing moves until the
// approver's word. It prints a readable transcript; `runDemo()` returns it for the e2e test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startGitHttpServer } from '../workspace/git-http.mjs';
import {
  envRef,
  factoryDir,
  freePort,
  hostConfig,
  loadSecrets,
  prepareConfigRepo,
  prepareDatasets,
  preparePython,
  startMlflow,
  stopChildren,
  writeSettings,
} from '../workspace/prepare.mjs';
import { createStoryModel } from './story-model.mjs';

const dist = (path) => new URL(`../../../packages/agent-host/dist/${path}`, import.meta.url).href;
const team = 'events:web:team';

/**
 * @param {{ viewerFirst?: boolean, python?: string, mlflowUri?: string, dataDir?: string,
 *           print?: (line: string) => void, timeoutMs?: number }} options
 */
export async function runDemo(options = {}) {
  const print = options.print ?? (() => undefined);
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'nightshift-demo-'));
  const children = [];
  const transcript = [];
  const say = (who, text) => {
    const entry = { who, text };
    transcript.push(entry);
    print(`\n${who}:\n${text.replace(/^/gm, '  ')}`);
  };
  const cleanups = [];
  try {
    const secrets = loadSecrets(dataDir);
    const python = options.python ?? preparePython(join(factoryDir, '.nightshift'));
    if (!python) throw new Error('the demo needs python3 with numpy (the trainer); none could be installed');
    const datasetsRoot = prepareDatasets(dataDir, python);
    const gitRoot = prepareConfigRepo(dataDir);
    const git = await startGitHttpServer({ root: gitRoot, token: secrets.gitToken });
    cleanups.push(() => git.close());
    const mlflowUri = options.mlflowUri ?? (await startMlflow(join(factoryDir, '.nightshift'), children));
    const settings = writeSettings({
      dataDir,
      python,
      datasetsRoot,
      gitUrl: git.url,
      mlflowUri,
      epochSeconds: options.epochSeconds ?? 0.3,
    });
    const port = await freePort();
    const config = hostConfig({
      ...settings,
      dataDir,
      port,
      mlflowUri,
      datasetsRoot,
      people: [
        { name: 'Anna', role: 'approver', web: 'anna' },
        { name: 'Bob', role: 'viewer', web: 'bob' },
      ],
      logins: [{ id: 'anna', token: envRef('NIGHTSHIFT_WEB_TOKEN') }],
    });
    const env = {
      ...process.env,
      NIGHTSHIFT_EVENTS_SECRET: secrets.eventsSecret,
      NIGHTSHIFT_CONFIGS_TOKEN: secrets.gitToken,
      NIGHTSHIFT_WEB_TOKEN: secrets.webPassword,
    };
    const { parseFullConfig } = await import(dist('service/service-config.js'));
    const { startService } = await import(dist('service/service.js'));
    const { createHost } = await import(dist('index.js'));
    const loaded = parseFullConfig(JSON.stringify(config), { env, baseDir: dataDir });
    const model = createStoryModel();
    const host = await createHost(loaded.host, { model, log: () => undefined });
    cleanups.push(() => host.close());

    // Every event turn's outcome is what the team channel would show (or not).
    const turns = [];
    // The host as the service sees it, with every event turn's outcome written to the transcript.
    const observed = new Proxy(host, {
      get(target, key, receiver) {
        if (key !== 'runEventTurn') return Reflect.get(target, key, receiver);
        return async (input) => {
          const result = await target.runEventTurn(input);
          turns.push({ events: input.events.map((e) => `${e.type}`), silent: result.silent });
          say(
            `events (${input.events.length}: ${summarize(input.events)})`,
            result.silent ? '[silent: nothing sent]' : `Nightshift → #team\n${result.text}`,
          );
          return result;
        };
      },
    });
    const service = await startService({
      host: observed,
      service: loaded.service,
      dataDir: loaded.host.dataDir,
      secrets: loaded.secrets,
      listen: { host: '127.0.0.1', port },
      log: () => undefined,
    });
    cleanups.push(() => service.close());
    print(`Nightshift is listening on ${service.url}; the config repo is at ${git.url}/configs.git.`);

    const person = async (name, login, text) => {
      say(`${name} (${login})`, text);
      const result = await host.handleMessage({
        channel: 'web',
        senderId: login,
        conversationId: team,
        text,
      });
      say('Nightshift', result.reply || '(nothing)');
      return result;
    };
    const deadline = Date.now() + (options.timeoutMs ?? 240_000);
    const until = async (what, check) => {
      while (Date.now() < deadline) {
        const value = await check();
        if (value) return value;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`the demo timed out waiting for ${what}`);
    };

    await person('Anna', 'anna', 'train customer-b/pcb-inspect-v2');
    const proposal = await until('the proposal', () => host.pendingProposals(team)[0]);
    const headBefore = remoteHead(gitRoot);
    let viewerReply;
    if (options.viewerFirst) {
      viewerReply = (await person('Bob', 'bob', 'kör på')).reply;
      if (remoteHead(gitRoot) !== headBefore || host.pendingProposals(team).length !== 1) {
        throw new Error('a viewer moved something');
      }
    }
    const confirmed = await person('Anna', 'anna', 'kör på');
    const confirmedAt = transcript.length;
    const headAfter = remoteHead(gitRoot);
    await until('the requeued job’s first milestone', () =>
      transcript.slice(confirmedAt).some((t) => /new best/.test(t.text)),
    );
    await until('the requeued job to finish', () => transcript.some((t) => /finished · best/.test(t.text)));
    await service.settled();

    const configAfter = execFileSync(
      'git',
      ['--git-dir', join(gitRoot, 'configs.git'), 'show', 'main:customer-b/pcb-inspect-v2/train_cfg.yaml'],
      {
        encoding: 'utf8',
      },
    );
    return {
      transcript,
      turns,
      proposal,
      viewerReply,
      confirmedReply: confirmed.reply,
      headBefore,
      headAfter,
      commits: Number(
        execFileSync('git', ['--git-dir', join(gitRoot, 'configs.git'), 'rev-list', '--count', 'main'], {
          encoding: 'utf8',
        }),
      ),
      configAfter,
      audit: host.audit.list({ limit: 500 }),
      auditOk: host.audit.verify().ok,
      modelLog: model.log,
      // For the test that checks none of them reached people, the model or the audit log.
      secretValues: [secrets.eventsSecret, secrets.gitToken, secrets.webPassword],
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    stopChildren(children);
    if (!options.dataDir && !options.keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

function remoteHead(gitRoot) {
  return execFileSync('git', ['--git-dir', join(gitRoot, 'configs.git'), 'rev-parse', 'main'], {
    encoding: 'utf8',
  }).trim();
}

function summarize(events) {
  const counts = new Map();
  for (const e of events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  return [...counts].map(([t, n]) => (n > 1 ? `${n}× ${t}` : t)).join(', ');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { 'viewer-first': { type: 'boolean' }, keep: { type: 'boolean' } },
  });
  const result = await runDemo({
    viewerFirst: values['viewer-first'],
    keep: values.keep,
    print: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    `\nThe config repo went from ${result.headBefore.slice(0, 7)} to ${result.headAfter.slice(0, 7)}; ` +
      `${result.turns.length} event turns, ${result.turns.filter((t) => !t.silent).length} of them spoke. ` +
      `Audit log: ${result.audit.length} rows, chain ${result.auditOk ? 'intact' : 'BROKEN'}.\n`,
  );
  process.exit(0);
}
