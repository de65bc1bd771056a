import { describe, expect, it } from 'vitest';
import {
  classify,
  extractErrors,
  findMlflowRunId,
  grepLines,
  hasCudaOom,
  lastErrorLine,
} from './log-analysis.ts';

describe('extractErrors', () => {
  it('returns a chained traceback as one finding with the line it starts at, and flags its CUDA OOM', () => {
    const lines = [
      'epoch 3 loss 0.41',
      'Traceback (most recent call last):',
      '  File "train.py", line 10, in step',
      '    loss.backward()',
      'RuntimeError: first failure',
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "train.py", line 12, in step',
      'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB',
      'epoch 4 loss 0.40',
    ];
    const found = extractErrors(lines, 101);
    expect(found.map((f) => [f.kind, f.line])).toEqual([
      ['traceback', 102],
      ['cuda_oom', 111],
    ]);
    expect(found[0]?.text.split('\n')).toHaveLength(10);
    expect(found[0]?.text).toContain('RuntimeError: first failure');
  });

  it('finds NCCL, CUDA, crash and NaN failures and ignores progress lines', () => {
    const lines = [
      'step 10 loss 0.3',
      'node0:123:456 [0] NCCL WARN Call to connect returned Connection refused',
      'RuntimeError: CUDA error: device-side assert triggered',
      'Segmentation fault (core dumped)',
      'loss is nan at step 12',
      'ERROR: dataset shard missing',
      'Killed',
    ];
    expect(extractErrors(lines).map((f) => f.kind)).toEqual([
      'nccl',
      'cuda_error',
      'crash',
      'nan',
      'error',
      'crash',
    ]);
    expect(classify('step 11 loss 0.2')).toBeUndefined();
  });

  it('caps the number of findings', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `ERROR: failure ${i}`);
    expect(extractErrors(lines, 1, 50)).toHaveLength(50);
  });
});

describe('small readers', () => {
  it('detects CUDA OOM in the forms frameworks print', () => {
    expect(hasCudaOom(['RuntimeError: CUDA out of memory. Tried to allocate 1 GiB'])).toBe(true);
    expect(hasCudaOom(['jax: RESOURCE_EXHAUSTED: Out of memory while trying to allocate'])).toBe(true);
    expect(hasCudaOom(['CUDA_ERROR_OUT_OF_MEMORY'])).toBe(true);
    expect(hasCudaOom(['memory usage 3 GiB'])).toBe(false);
  });

  it('picks the last error line for a one-line reason', () => {
    expect(lastErrorLine(['ValueError: first', 'ok', 'KeyError: second', 'done'])).toBe('KeyError: second');
    expect(lastErrorLine(['all good'])).toBeUndefined();
  });

  it('finds an MLflow run id printed by a job', () => {
    const id = '0123456789abcdef0123456789abcdef';
    expect(findMlflowRunId(`mlflow_run_id=${id}`)).toBe(id);
    expect(findMlflowRunId(`View run at http://mlflow:5000/#/experiments/3/runs/${id}`)).toBe(id);
    expect(findMlflowRunId('no run here')).toBeUndefined();
  });

  it('greps with line numbers and treats a broken pattern literally', () => {
    expect(grepLines(['a', 'loss 1', 'b', 'LOSS 2'], 'loss', 10)).toEqual([
      { n: 11, text: 'loss 1' },
      { n: 13, text: 'LOSS 2' },
    ]);
    expect(grepLines(['x[1', 'y'], 'x[1')).toEqual([{ n: 1, text: 'x[1' }]);
  });
});
