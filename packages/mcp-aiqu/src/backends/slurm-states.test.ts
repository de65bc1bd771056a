import { describe, expect, it } from 'vitest';
import { gpuIndices, gresGpus } from './slurm.ts';
import {
  buildBatchScript,
  decodeExitPair,
  decodeWaitStatus,
  parseJobcomp,
  parseSacct,
  slurmOutcome,
} from './slurm-states.ts';

describe('Slurm states and records', () => {
  it('maps every Slurm end state to a status and a normalised reason', () => {
    expect(slurmOutcome('PENDING')).toEqual({ status: 'queued' });
    expect(slurmOutcome('PENDING', 'PartitionConfig')).toEqual({ status: 'queued', reason: 'unschedulable' });
    expect(slurmOutcome('RUNNING')).toEqual({ status: 'running' });
    expect(slurmOutcome('COMPLETING')).toEqual({ status: 'running' });
    expect(slurmOutcome('COMPLETED')).toEqual({ status: 'succeeded', reason: 'completed' });
    expect(slurmOutcome('FAILED')).toEqual({ status: 'failed', reason: 'nonzero_exit' });
    expect(slurmOutcome('OUT_OF_MEMORY')).toEqual({ status: 'failed', reason: 'oom_killed' });
    expect(slurmOutcome('TIMEOUT')).toEqual({ status: 'failed', reason: 'timeout' });
    expect(slurmOutcome('NODE_FAIL')).toEqual({ status: 'failed', reason: 'node_failure' });
    expect(slurmOutcome('PREEMPTED')).toEqual({ status: 'failed', reason: 'preempted' });
    expect(slurmOutcome('BOOT_FAIL')).toEqual({ status: 'failed', reason: 'start_failure' });
    expect(slurmOutcome('CANCELLED')).toEqual({ status: 'stopped', reason: 'cancelled' });
    expect(slurmOutcome('CANCELLED by 0')).toEqual({ status: 'stopped', reason: 'cancelled' });
  });

  it('decodes wait statuses (squeue JSON) and code:signal pairs (scontrol, jobcomp, sacct)', () => {
    expect(decodeWaitStatus(768)).toEqual({ exitCode: 3 });
    expect(decodeWaitStatus(9)).toEqual({ exitCode: 137, signal: 9 });
    expect(decodeWaitStatus(0)).toEqual({ exitCode: 0 });
    expect(decodeExitPair('3:0')).toEqual({ exitCode: 3 });
    expect(decodeExitPair('0:15')).toEqual({ exitCode: 143, signal: 15 });
    expect(decodeExitPair('n/a')).toBeUndefined();
  });

  it('parses the jobcomp file and sacct output as Slurm 22.05 writes them', () => {
    const jobcomp = [
      'JobId=2 UserId=root(0) GroupId=root(0) Name=fail JobState=FAILED Partition=gpu TimeLimit=UNLIMITED StartTime=2026-11-23T08:45:33 EndTime=2026-11-23T08:45:34 NodeList=vm NodeCnt=1 ProcCnt=1 WorkDir=/tmp ReservationName= Tres=cpu=1,mem=500M,node=1,billing=1 Account= QOS= WcKey= Cluster=unknown SubmitTime=2026-11-23T08:45:32 EligibleTime=2026-11-23T08:45:32 DerivedExitCode=0:0 ExitCode=3:0 ',
      'JobId=4 UserId=root(0) GroupId=root(0) Name=long JobState=CANCELLED Partition=gpu TimeLimit=UNLIMITED StartTime=2026-11-23T08:45:37 EndTime=2026-11-23T08:45:46 NodeList=vm ExitCode=0:15 ',
      '',
    ].join('\n');
    const records = parseJobcomp(jobcomp);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ nativeId: '2', name: 'fail', state: 'FAILED', exitCode: 3 });
    expect(records[0]?.endTime).toBe(new Date('2026-11-23T08:45:34').toISOString());
    expect(records[1]).toMatchObject({ nativeId: '4', state: 'CANCELLED', exitCode: 143, signal: 15 });
    const sacct = parseSacct(
      '12|train|CANCELLED by 0|0:15|2026-11-23T08:00:00|2026-11-23T08:00:01|2026-11-23T08:01:00\n13|t|COMPLETED|0:0|2026-11-23T08:00:00|Unknown|Unknown\n',
    );
    expect(sacct[0]).toMatchObject({ nativeId: '12', state: 'CANCELLED', exitCode: 143 });
    expect(sacct[1]).toMatchObject({ nativeId: '13', state: 'COMPLETED', exitCode: 0 });
    expect(sacct[1]?.startTime).toBeUndefined();
  });

  it('reads GPU counts from gres strings and GPU indices from gres details', () => {
    expect(gresGpus('gpu:fake:2')).toEqual({ count: 2, type: 'fake' });
    expect(gresGpus('gpu:a100:4(S:0-1),gpu:v100:2')).toEqual({ count: 6, type: 'a100' });
    expect(gresGpus('gpu:2')).toEqual({ count: 2 });
    expect(gresGpus('(null)')).toEqual({ count: 0 });
    expect(gpuIndices('gpu:fake:2(IDX:0-1,3)')).toEqual([0, 1, 3]);
    expect(gpuIndices('gpu:fake:1(IDX:1)')).toEqual([1]);
  });

  it('generates a batch script with resources, quoting, the shared job variables and no command injection', () => {
    const base = {
      backend: 'slurm',
      cluster: 'c',
      status: 'queued' as const,
      createdAt: '2026-11-23T00:00:00Z',
    };
    const script = buildBatchScript({
      outputPath: '/out/slurm-000007.out',
      partition: 'gpu',
      jobEnv: { NIGHTSHIFT_EVENTS_URL: 'http://127.0.0.1:9/e', NIGHTSHIFT_JOB_ID: 'overridden' },
      job: {
        ...base,
        id: 'slurm-000007',
        attempt: 2,
        name: "customer-a/weld defect 'v4'",
        command: [
          'python',
          'train.py',
          '--lr',
          '{{lr}}',
          '--note',
          '$(rm -rf /)',
          '{{job_id}}',
          '{{config_path}}',
          '{{nope}}',
        ],
        configRef: { repo: 'factory-configs', path: 'a/b.yaml' },
        env: { WANDB_MODE: "off'; echo pwned" },
        params: { lr: '0.01' },
        resources: { gpus: 2, cpus: 3.5, memoryMiB: 8000 },
        priority: -5,
        labels: {},
        timeoutSeconds: 90,
        workingDir: '/srv/trainer',
      },
    });
    expect(script).toContain('#SBATCH --job-name=customer-a/weld_defect_v4_');
    expect(script).toContain('#SBATCH --gres=gpu:2');
    expect(script).toContain('#SBATCH --cpus-per-task=4');
    expect(script).toContain('#SBATCH --mem=8000M');
    expect(script).toContain('#SBATCH --time=2');
    expect(script).toContain('#SBATCH --partition=gpu');
    expect(script).toContain('#SBATCH --nice=5');
    expect(script).toContain('#SBATCH --comment=nightshift:slurm-000007');
    expect(script).toContain("export NIGHTSHIFT_PARAM_LR='0.01'");
    expect(script).toContain("export WANDB_MODE='off'\\''; echo pwned'");
    expect(script).toContain(
      "exec 'python' 'train.py' '--lr' '0.01' '--note' '$(rm -rf /)' 'slurm-000007' 'a/b.yaml' '{{nope}}'",
    );
    expect(script).toContain("export NIGHTSHIFT_JOB_ID='slurm-000007'");
    expect(script).not.toContain('overridden');
    expect(script).toContain("export NIGHTSHIFT_JOB_ATTEMPT='2'");
    expect(script).toContain("export NIGHTSHIFT_CONFIG_PATH='a/b.yaml'");
    expect(script).toContain("export NIGHTSHIFT_EVENTS_URL='http://127.0.0.1:9/e'");
    expect(() =>
      buildBatchScript({
        outputPath: '/o',
        job: {
          ...base,
          id: 'x',
          attempt: 1,
          name: 'n',
          env: {},
          params: {},
          resources: { gpus: 0, cpus: 1 },
          priority: 0,
          labels: {},
        },
      }),
    ).toThrow(/no command/);
  });
});
