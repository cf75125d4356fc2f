/**
 * Where every run of a sweep stands, from what is on disk (the run cache, the workers' marks) and, when the
 * sweep was submitted to Slurm, from squeue. Local and Slurm runs of one sweep mix freely: a run is done
 * when its results.json exists, whoever wrote it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PlannedTask, SweepPlan, planSweep, readMarker } from './plan';
import { isDone as isFinished } from './tasks';
import { latestSlurmTasks, readSubmissions, slurmLogFile, slurmQueue } from './slurm';
import { SweepSpec, taskLabel } from './spec';
import { markerIsLive } from './worker';

export const TASK_STATES = ['done', 'running', 'queued', 'failed', 'interrupted', 'missing'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface TaskStatus {
  task: PlannedTask;
  /**
   * done: results.json exists. running / queued: a live local worker or Slurm has it. failed: the run threw,
   * or its worker or Slurm task ended without a result. interrupted: started, then stopped (resumes from its
   * checkpoint when rerun). missing: never started.
   */
  state: TaskState;
  detail?: string;
  log?: string;
}

export interface SweepStatus {
  plan: SweepPlan;
  tasks: TaskStatus[];
  counts: Record<TaskState, number>;
}

function taskStatus(plan: SweepPlan, task: PlannedTask, queue: Map<string, string> | null, latest: ReturnType<typeof latestSlurmTasks>): TaskStatus {
  if (isFinished(task)) return { task, state: 'done' };
  const slurm = latest.get(task.hash);
  const slurmLog = slurm ? slurmLogFile(plan.dir, slurm.jobId, slurm.position) : undefined;
  const slurmState = slurm ? queue?.get(`${slurm.jobId}_${slurm.position}`) : undefined;
  if (slurmState) {
    const state = slurmState === 'PENDING' || slurmState === 'CONFIGURING' ? 'queued' : 'running';
    return { task, state, detail: `slurm job ${slurm!.jobId}_${slurm!.position} ${slurmState}`, log: slurmLog };
  }
  const marker = readMarker(plan.dir, task.hash);
  if (marker?.state === 'running' && markerIsLive(marker)) return { task, state: 'running', detail: `pid ${marker.pid}`, log: marker.log };
  if (marker?.state === 'failed') return { task, state: 'failed', detail: marker.error, log: marker.log };
  const resumable = fs.existsSync(path.join(task.runDir, 'checkpoint'));
  if (marker?.state === 'running') {
    // Its worker is gone without a word: killed (SIGKILL, OOM, node lost).
    return { task, state: 'interrupted', detail: `worker ${marker.pid} on ${marker.host} stopped without finishing${resumable ? '; resumes from its checkpoint' : ''}`, log: marker.log };
  }
  if (slurm && queue) {
    return { task, state: 'failed', detail: `slurm task ${slurm.jobId}_${slurm.position} ended without a result`, log: slurmLog };
  }
  if (resumable) return { task, state: 'interrupted', detail: 'has a checkpoint; resumes when rerun' };
  return { task, state: 'missing' };
}

/** The state of every task of a sweep (queries squeue only if the sweep was ever submitted to Slurm). */
export function sweepStatus(spec: SweepSpec): SweepStatus {
  const plan = planSweep(spec);
  const latest = latestSlurmTasks(plan.dir);
  const queue = readSubmissions(plan.dir).length ? slurmQueue(spec.name) : null;
  const tasks = plan.tasks.map((t) => taskStatus(plan, t, queue, latest));
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const t of tasks) counts[t.state]++;
  return { plan, tasks, counts };
}

export function formatStatus(s: SweepStatus, opts: { all?: boolean } = {}): string {
  const counts = TASK_STATES.filter((k) => s.counts[k] > 0).map((k) => `${s.counts[k]} ${k}`).join(', ');
  const lines = [`sweep ${s.plan.spec.name} (${s.plan.spec.experiment}, preset ${s.plan.spec.preset}): ${s.tasks.length} runs — ${counts}`];
  for (const t of s.tasks) {
    if (!opts.all && t.state === 'done') continue;
    lines.push(`  ${t.state.padEnd(11)} ${taskLabel(t.task)}${t.detail ? ` — ${t.detail}` : ''}${t.log ? ` (log: ${t.log})` : ''}`);
  }
  return lines.join('\n');
}
