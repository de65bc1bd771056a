import { describe, expect, it } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript run by node directly.
import { runDemo } from '../demo/run.mjs';

// The story Nightshift is built around, through the real host, the real MCP servers, a real
// training job on the local queue and the real signed intake, with the scripted story model.
// The trainer needs python with numpy; CI provides the MLflow test venv (which has numpy) and
// the real MLflow server, so the diagnosis reads the run's params there too.
const python = process.env.NIGHTSHIFT_TEST_TRAINER_PYTHON;
const mlflowUri = process.env.NIGHTSHIFT_TEST_MLFLOW_URI;

interface Said {
  who: string;
  text: string;
}

describe.skipIf(!python)('the factory incident, end to end', () => {
  it('stays silent on epochs, speaks once on a new best, diagnoses the OOM, and moves only on the approver’s word', async () => {
    const result = await runDemo({ python, mlflowUri, viewerFirst: false, epochSeconds: 0.2 });
    const said: Said[] = result.transcript;
    const turns: Array<{ events: string[]; silent: boolean }> = result.turns;
    const spoken = said.filter((s) => s.text.startsWith('Nightshift → #team'));

    // Epoch-only turns never speak.
    expect(turns.filter((t) => t.events.every((e) => e.endsWith('epoch'))).every((t) => t.silent)).toBe(true);
    // Before the failure: exactly one notification, the real new best.
    const failedAt = spoken.findIndex((s) => /CUDA out of memory/.test(s.text));
    expect(failedAt).toBeGreaterThan(0);
    expect(spoken.slice(0, failedAt).map((s) => s.text)).toEqual([expect.stringMatching(/new best/)]);
    // The diagnosis names the cause from the config in git, and shows the one-line diff.
    const diagnosis = spoken[failedAt]?.text ?? '';
    expect(diagnosis).toMatch(/train\.image_size is 1280 but model\.head_size is 640/);
    expect(diagnosis).toMatch(/-\s+image_size: 1280[\s\S]*\+\s+image_size: 640/);
    if (mlflowUri) expect(diagnosis).toMatch(/MLflow run's params/);

    // Held, then confirmed by the approver: exactly that change, committed and pushed once.
    expect(result.proposal.tool).toBe('git_commit_proposal');
    expect(result.headAfter).not.toBe(result.headBefore);
    expect(result.commits).toBe(2);
    expect(result.configAfter).toMatch(/image_size: 640/);
    expect(result.confirmedReply).toMatch(/committed [0-9a-f]{12} to configs:main and pushed/);
    expect(result.confirmedReply).toMatch(/requeued as local-\d+/i);

    // The requeued attempt trains past epoch 12 and its first milestone is notified.
    const afterConfirm = spoken.slice(failedAt + 1).map((s) => s.text);
    expect(afterConfirm.some((t) => /new best/.test(t))).toBe(true);
    expect(afterConfirm.some((t) => /finished · best val\/mAP/.test(t))).toBe(true);

    // The audit chain records who confirmed, and is intact.
    expect(result.auditOk).toBe(true);
    const confirmed = result.audit.filter((row: { kind: string }) => /confirm/.test(row.kind));
    expect(confirmed.some((row: { actor: string }) => row.actor === 'Anna')).toBe(true);
  });

  it('a viewer’s "kör på" moves nothing; the approver’s does', async () => {
    const result = await runDemo({ python, mlflowUri, viewerFirst: true, epochSeconds: 0.2 });
    expect(result.viewerReply).toMatch(/Only an approver can decide on P-\d+ \(Anna\)\. Nothing was run\./);
    expect(result.commits).toBe(2);
    const rows = result.audit as Array<{ kind: string; actor: string | null }>;
    const decisions = rows.filter((row) => /proposal_(confirmed|executed|rejected)/.test(row.kind));
    expect(decisions.every((row) => row.actor !== 'Bob')).toBe(true);
    // No secret of the workspace reaches what people or the model see.
    const everything = JSON.stringify([result.transcript, result.modelLog, result.audit]);
    expect(result.secretValues.length).toBe(3);
    for (const secret of result.secretValues) expect(everything).not.toContain(secret);
  });
});
