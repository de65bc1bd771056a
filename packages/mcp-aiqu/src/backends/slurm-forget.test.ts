import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SlurmBackend } from './slurm.ts';
import type { JobSpec } from './types.ts';

// Slurm forgets finished jobs MinJobAge seconds after they end (30 s on the test cluster, then
// up to a minute until the purge runs). The backend must still answer with the final state.
const slurmConf = process.env.NIGHTSHIFT_TEST_SLURM_CONF ?? process.env.SLURM_CONF;
const enabled = Boolean(process.env.NIGHTSHIFT_TEST_SLURM && slurmConf);
const minJobAge = Number(process.env.NIGHTSHIFT_TEST_SLURM_MIN_JOB_AGE ?? 300);

const spec = (command: string[]): JobSpec => ({
  name: 'test/forgotten',
  command,
  env: {},
  params: {},
  resources: { gpus: 0, cpus: 1, memoryMiB: 100 },
  priority: 0,
  labels: {},
});

describe.skipIf(!enabled || minJobAge > 60)('Slurm backend after Slurm forgets a job', () => {
  it('keeps final states: from its own store, from the jobcomp file, and says "lost" without either', async () => {
    const base = mkdtempSync(join(tmpdir(), 'aiqu-slurm-forget-'));
    const watched = new SlurmBackend({ stateDir: join(base, 'watched'), slurmConf });
    const fromJobcomp = new SlurmBackend({
      stateDir: join(base, 'jobcomp'),
      slurmConf,
      accounting: 'jobcomp',
    });
    const blind = new SlurmBackend({ stateDir: join(base, 'blind'), slurmConf, accounting: 'none' });

    const a = await watched.submit(spec(['bash', '-c', 'exit 4']));
    const b = await fromJobcomp.submit(spec(['bash', '-c', 'exit 5']));
    const c = await blind.submit(spec(['true']));
    // The watched backend sees its job end while Slurm still knows it.
    for (let i = 0; i < 60 && (await watched.get(a.id)).status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await watched.get(a.id)).exitCode).toBe(4);

    // Wait until Slurm has purged all three.
    const { execFileSync } = await import('node:child_process');
    const known = (nativeId: string) => {
      try {
        execFileSync('scontrol', ['show', 'job', nativeId], {
          env: { ...process.env, SLURM_CONF: slurmConf },
          stdio: 'pipe',
        });
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 180_000;
    while ([a, b, c].some((job) => known(job.nativeId as string)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 3000));
    }
    expect([a, b, c].some((job) => known(job.nativeId as string))).toBe(false);

    const reopened = new SlurmBackend({ stateDir: join(base, 'watched'), slurmConf, accounting: 'none' });
    expect(await reopened.get(a.id)).toMatchObject({ status: 'failed', reason: 'nonzero_exit', exitCode: 4 });
    expect(await fromJobcomp.get(b.id)).toMatchObject({
      status: 'failed',
      reason: 'nonzero_exit',
      exitCode: 5,
    });
    // Unseen twice before it counts as lost: one miss may be a job sbatch just created.
    await blind.get(c.id);
    const lost = await blind.get(c.id);
    expect(lost).toMatchObject({ status: 'failed', reason: 'lost' });
    expect(lost.reasonDetail).toContain('no accounting record');
  }, 240_000);
});
