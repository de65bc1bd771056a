// The demo's reasoning core: a scripted model that plays the factory story by reading what the
// host shows it, the way a real model would, so the story holds however the scheduler batches
// the events. It follows the brief: silent on routine epochs, one line on a real new best (at
// least +0.02 over the last one it announced), a cross-checked diagnosis on a failure, the write
// held as a proposal, and after confirmation the reversible follow-up (requeue) on its own.
//
// It is a script, not a judge: bench/judgment measures real models on labelled stories.

const realGain = 0.02;

/** @returns {import('../../../packages/agent-host/dist/index.js').ModelAdapter & { log: string[] }} */
export function createStoryModel() {
  const announcedBest = new Map(); // job id → the last new best value it spoke about
  const state = { lastFailedJob: undefined, mlflowRuns: new Map() };
  const log = [];
  return {
    id: 'scripted:factory-story',
    log,
    async complete(request) {
      const { opening, steps } = currentTurn(request.messages);
      const tool = (suffix) =>
        request.tools.find((t) => t.name === suffix || t.name.endsWith(`_${suffix}`))?.name ?? suffix;
      const reply = (text, toolCalls = []) => {
        log.push(text || toolCalls.map((c) => c.name).join(', '));
        return {
          text,
          toolCalls: toolCalls.map((c, i) => ({ id: `story_${steps.length}_${i}`, ...c })),
          usage: { inputTokens: 0, outputTokens: 0 },
          stopReason: toolCalls.length ? 'tool_use' : 'end',
        };
      };

      if (opening.startsWith('[events]')) {
        const events = parseEvents(opening);
        for (const event of events) {
          const runId = event.payload?.data?.mlflow_run_id;
          if (runId) state.mlflowRuns.set(jobIdOf(event), runId);
        }
        const failure = events.find((e) => /failed$/.test(e.type));
        if (failure) return diagnose(state, failure, steps, tool, reply);
        for (const event of events) {
          const data = event.payload?.data ?? {};
          const jobId = jobIdOf(event);
          if (/epoch$/.test(event.type) && data.epoch === 1 && !announcedBest.has(jobId)) {
            announcedBest.set(jobId, Number(data.metrics?.['val/mAP'] ?? 0));
          }
        }
        const lines = [];
        for (const event of events.filter((e) => /milestone$/.test(e.type))) {
          const data = event.payload?.data ?? {};
          const value = Number(data.metrics?.['val/mAP']);
          const jobId = jobIdOf(event);
          const last = announcedBest.get(jobId) ?? 0;
          if (data.name === 'new_best' && value >= last + realGain) {
            announcedBest.set(jobId, value);
            lines.push(
              `${nameOf(event)} — epoch ${data.epoch}/${data.epochs} · val/mAP ${value.toFixed(3)} ↑ new best`,
            );
          }
        }
        for (const event of events.filter((e) => /finished$/.test(e.type))) {
          const best = Number(event.payload?.data?.metrics?.['val/mAP']);
          lines.push(`${nameOf(event)} — finished · best val/mAP ${best.toFixed(3)}`);
        }
        return reply(lines.length ? lines.join('\n') : '[silent]');
      }

      if (opening.startsWith('[host]') && /confirmed/.test(opening)) {
        const committed = /committed ([0-9a-f]{7,40})/.exec(opening)?.[1];
        if (steps.length === 0 && committed && state.lastFailedJob) {
          return reply('', [{ name: tool('aiqu_requeue_job'), arguments: { id: state.lastFailedJob } }]);
        }
        const requeued = /Requeued as (\S+)/.exec(lastToolText(steps)) ?? [];
        return reply(
          `Committed ${committed?.slice(0, 7) ?? ''} — the image_size fix for customer-b/pcb-inspect-v2. ` +
            `Job requeued as ${requeued[1] ?? '(see the queue)'}. I will say something at the first milestone or error.`,
        );
      }

      // A person's request.
      const model = /train\s+(\S+)/i.exec(opening)?.[1];
      if (model && steps.length === 0) {
        return reply('', [{ name: tool('aiqu_submit_job'), arguments: { template: model } }]);
      }
      if (model) {
        const submitted = /Submitted (\S+)/.exec(lastToolText(steps))?.[1];
        return reply(
          `Started ${model} as ${submitted ?? 'a new job'}. I will stay quiet unless something needs you.`,
        );
      }
      return reply('I can start a training job ("train <model>") or look into a run.');
    },
  };
}

function diagnose(state, failure, steps, tool, reply) {
  const jobId = jobIdOf(failure);
  state.lastFailedJob = jobId;
  const path = 'customer-b/pcb-inspect-v2/train_cfg.yaml';
  if (steps.length === 0) {
    const runId = state.mlflowRuns.get(jobId);
    return reply('', [
      { name: tool('aiqu_get_job_logs'), arguments: { id: jobId, errorsOnly: true } },
      { name: tool('git_read_config_value'), arguments: { repo: 'configs', path, key: 'train.image_size' } },
      { name: tool('git_read_config_value'), arguments: { repo: 'configs', path, key: 'model.head_size' } },
      ...(runId ? [{ name: tool('mlflow_get_run'), arguments: { run_id: runId } }] : []),
    ]);
  }
  if (steps.length === 1) {
    return reply('', [
      {
        name: tool('git_propose_edit'),
        arguments: {
          repo: 'configs',
          path,
          set: [{ key: 'train.image_size', value: 640 }],
          description: 'match the input size to the 640 head',
        },
      },
    ]);
  }
  if (steps.length === 2) {
    const proposal = /proposal (\S+) for/.exec(lastToolText(steps))?.[1];
    return reply('', [
      {
        name: tool('git_commit_proposal'),
        arguments: {
          proposalId: proposal ?? 'missing',
          message: 'fix: image_size to match the 640 head of pcb-inspect-v2',
        },
      },
    ]);
  }
  const texts = toolTexts(steps);
  // git_read_config_value answers `<path> <key> = <JSON value>`.
  const value = (key) =>
    texts.map((t) => new RegExp(` ${key.replace('.', '\\.')} = (.+)$`, 'm').exec(t)?.[1]).find(Boolean);
  const imageSize = value('train.image_size');
  const headSize = value('model.head_size');
  const sawMlflow = steps.some((s) => s.results.some((r) => /mlflow_get_run$/.test(r.name) && !r.isError));
  const diff = /(@@[\s\S]*)/.exec(texts.find((t) => t.includes('@@')) ?? '')?.[1]?.trim() ?? '';
  const checked = [
    'the job log',
    `${path} at the head of main`,
    ...(sawMlflow ? ["the MLflow run's params"] : []),
  ];
  return reply(
    [
      `${nameOf(failure)} — failed · CUDA out of memory`,
      `Checked ${checked.join(', ')}: train.image_size is ${imageSize} but model.head_size is ${headSize}, so every feature map is re-projected and memory runs out once multi-scale training reaches full scale.`,
      'I will make one edit and commit:',
      diff,
      'Waiting for your go-ahead: type **kör på** (or yes) to apply it, or no to drop it.',
    ].join('\n'),
  );
}

/** The opening user message of the current turn and the assistant/tool steps after it. */
function currentTurn(messages) {
  let start = messages.length - 1;
  while (start >= 0 && messages[start].role !== 'user') start--;
  return {
    opening: messages[start]?.content ?? '',
    steps: messages.slice(start + 1).filter((m) => m.role === 'tool'),
  };
}

function toolTexts(steps) {
  return steps.flatMap((s) => s.results.map((r) => r.content));
}

function lastToolText(steps) {
  return toolTexts(steps.slice(-1)).join('\n');
}

function parseEvents(opening) {
  return opening
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    })
    .filter(Boolean);
}

function jobIdOf(event) {
  return event.payload?.job?.id ?? String(event.run).split('#')[1] ?? event.run;
}

function nameOf(event) {
  return event.payload?.job?.name ?? String(event.run).split('#')[0];
}
