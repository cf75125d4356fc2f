/**
 * The `wraplab sweep` command group: run | submit | status | collect. Each takes a sweep spec file, or
 * the same fields as flags (flags also override a file's fields).
 */
import { Command } from 'commander';
import { UsageError } from '../experiments/define';
import { collectSweep } from './collect';
import { formatSummary, runSweep } from './local';
import { defaultJobs } from './pool';
import { submitSweep } from './slurm';
import { SweepFlags, specFromCli, taskLabel } from './spec';
import { formatStatus, sweepStatus } from './status';
import { WraplabError } from '../engine/errors';

/** Some runs of a sweep failed (after every other run was given its chance). */
export class SweepFailedError extends WraplabError {}

const repeat = (value: string, previous: string[]) => [...previous, value];

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${flag} must be a positive integer, got "${v}"`);
  return Number(v);
}

/** The flags that describe a sweep without a file. */
function specOptions(cmd: Command): Command {
  return cmd
    .argument('[spec]', 'sweep spec (JSON file: experiment, preset, seeds, grid, list, sets, name)')
    .option('-e, --experiment <id>', 'experiment id (instead of, or overriding, the spec file)')
    .option('-p, --preset <preset>', 'smoke | laptop | paper')
    .option('--seeds <list>', 'seeds, e.g. 0,1,2 or 0-4')
    .option('--grid <key=v1,v2>', 'a grid axis: config key and its values, repeatable', repeat, [])
    .option('--set <key=value>', 'a fixed override for every run, repeatable', repeat, [])
    .option('--name <name>', 'sweep name (its folder: $WRAPLAB_DATA/sweeps/<name>)');
}

export function addSweepCommands(program: Command): void {
  const sweep = program.command('sweep').description('run a grid of configs x seeds: locally in worker processes, or on Slurm');

  specOptions(sweep.command('run'))
    .description('run a sweep here in N worker processes; finished runs are skipped, interrupted ones resume')
    .option('-j, --jobs <n>', `worker processes (default $WRAPLAB_JOBS or the number of cores)`)
    .action(async (file: string | undefined, o: SweepFlags & { jobs?: string }) => {
      const spec = specFromCli(file, o);
      const summary = await runSweep(spec, { jobs: positiveInt('--jobs', o.jobs) ?? defaultJobs() });
      console.error(formatSummary(summary));
      console.log(summary.dir);
      if (summary.failed.length) throw new SweepFailedError(`${summary.failed.length} of ${summary.total} runs failed; rerun to retry only those`);
    });

  specOptions(sweep.command('submit'))
    .description('submit a sweep as one sbatch --array job (only runs neither finished nor already queued)')
    .option('--slurm', 'submit to Slurm (the only cluster engine so far)')
    .option('--partition <name>', 'Slurm partition')
    .option('--time <limit>', 'time limit per run, e.g. 30, 2:00:00')
    .option('--cpus-per-task <n>', 'CPUs per run')
    .option('--gpus <n>', 'GPUs per run (runs then use WRAPLAB_BACKEND=tensorflow, i.e. tfjs-node-gpu)')
    .option('--mem <size>', 'memory per run, e.g. 8G')
    .option('--max-parallel <n>', 'at most N array tasks at once')
    .option('--backend <name>', 'WRAPLAB_BACKEND for the runs (tensorflow | wasm | cpu)')
    .option('--sbatch <option>', 'another #SBATCH option, verbatim (e.g. --account=lab), repeatable', repeat, [])
    .option('--dry-run', 'write the job script, do not submit it')
    .action((file: string | undefined, o: SweepFlags & Record<string, string | string[] | boolean | undefined>) => {
      if (!o.slurm) throw new UsageError('sweep submit needs an engine: add --slurm (or run locally with `wraplab sweep run`)');
      const spec = specFromCli(file, o);
      const r = submitSweep(spec, {
        partition: o.partition as string | undefined,
        time: o.time as string | undefined,
        cpusPerTask: positiveInt('--cpus-per-task', o.cpusPerTask as string | undefined),
        gpus: o.gpus as string | undefined,
        mem: o.mem as string | undefined,
        maxParallel: positiveInt('--max-parallel', o.maxParallel as string | undefined),
        backend: o.backend as string | undefined,
        extra: o.sbatch as string[],
        dryRun: !!o.dryRun,
      });
      const head = `sweep ${spec.name}: ${r.finished} finished, ${r.inFlight} already queued or running`;
      if (r.submission) console.error(`${head}; submitted ${r.submitted.length} runs as Slurm job ${r.submission.jobId} (${r.script})`);
      else if (r.script) console.error(`${head}; wrote ${r.script} for ${r.submitted.length} runs (not submitted: --dry-run)`);
      else console.error(`${head}; nothing to submit`);
      if (r.submission) console.log(r.submission.jobId);
    });

  specOptions(sweep.command('status'))
    .description('where every run of a sweep stands (done, running, queued, failed, interrupted, missing)')
    .option('--all', 'list finished runs too')
    .action((file: string | undefined, o: SweepFlags & { all?: boolean }) => {
      console.log(formatStatus(sweepStatus(specFromCli(file, o)), { all: o.all }));
    });

  specOptions(sweep.command('collect'))
    .description('results of every finished run as one table (CSV); failures listed with their logs')
    .option('-o, --out <file>', 'CSV file (default <sweep folder>/results.csv)')
    .option('--print', 'also print the table')
    .action((file: string | undefined, o: SweepFlags & { out?: string; print?: boolean }) => {
      const r = collectSweep(specFromCli(file, o), { out: o.out });
      const s = r.status.plan.spec;
      console.error(`sweep ${s.name}: ${r.rows.length} of ${r.status.tasks.length} runs finished, ${r.failures.length} failed, ${r.unfinished.length} not finished`);
      for (const f of r.failures) console.error(`  FAILED ${taskLabel(f.task)}: ${f.detail ?? ''} (log: ${f.log ?? 'none'})`);
      if (r.table && o.print) r.table.print();
      if (r.csv) console.log(r.csv);
    });
}
