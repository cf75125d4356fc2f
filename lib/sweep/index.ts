/**
 * Running many things: the scheduler (a graph of runs and the stages they share, in this process or in worker
 * processes), sweeps (a grid of configs x seeds, run locally or on Slurm, collected from the run cache).
 */
export { ScheduleError, criticalPath, executeWork, planWork, runAll, workDone } from './schedule';
export type { ScheduleOptions, Work, WorkItem } from './schedule';
export { defaultJobs, runPool } from './pool';
export type { PoolOptions, TaskResult } from './pool';
export type { RunTask, StageTask, WorkerTask } from './tasks';
export { expandGrid, expandSweep, loadSweepSpec, parseGridFlag, parseSeeds, parseSweepSpec, specFromCli, taskLabel } from './spec';
export type { SweepFlags, SweepSpec, SweepSpecInput, SweepTask } from './spec';
export { planSweep, planTasks, sweepDir, sweepsRoot } from './plan';
export type { PlannedTask, SweepPlan } from './plan';
export { formatSummary, runSweep } from './local';
export type { SweepSummary } from './local';
export { submitSweep } from './slurm';
export type { SlurmOptions, SubmitResult } from './slurm';
export { formatStatus, sweepStatus } from './status';
export type { SweepStatus, TaskState, TaskStatus } from './status';
export { collectSweep } from './collect';
export type { CollectResult } from './collect';
export { addSweepCommands } from './commands';
