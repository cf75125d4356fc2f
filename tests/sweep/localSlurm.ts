/**
 * A real single-node Slurm cluster on localhost for the tests (Debian slurm-wlm + munge, no systemd, no
 * cgroups; see shared/spec/slurm.md): munge authentication, then slurmctld and slurmd on free ports with
 * state, spool, pid and log files in a scratch folder. `stop()` ends the daemons it started by the pids in
 * their pid files. Needs root (the munge key, SlurmUser=root), as on CI.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const SLURM_FIX = 'install them with `apt-get install slurm-wlm munge` (scripts/install.sh does it; CI runs it)';

export interface LocalSlurm {
  /** The slurm.conf; export SLURM_CONF=<conf> for the Slurm clients. */
  conf: string;
  dir: string;
  stop(): Promise<void>;
}

function which(cmd: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin']) {
    const f = path.join(dir, cmd);
    if (dir && fs.existsSync(f)) return f;
  }
  return null;
}

/** Absolute paths of the binaries, or an error naming the missing ones and the fix. */
export function slurmBinaries(): Record<string, string> {
  const names = ['munged', 'munge', 'unmunge', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo'];
  const found = Object.fromEntries(names.map((n) => [n, which(n)]));
  const missing = names.filter((n) => !found[n]);
  if (missing.length) throw new Error(`Slurm test: ${missing.join(', ')} not found; ${SLURM_FIX}`);
  return found as Record<string, string>;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, timeout: 30_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidFromFile(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopPid(pid: number | null): Promise<void> {
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

const MUNGE_PID = '/run/munge/munged.pid';

/** Starts munged unless a working one is running; returns whether this call started it. */
function ensureMunge(bin: Record<string, string>): boolean {
  const works = () => {
    const cred = run(bin.munge, ['-n']);
    return cred.ok && run(bin.unmunge, [], { input: cred.out }).ok;
  };
  if (works()) return false;
  const key = '/etc/munge/munge.key';
  if (!fs.existsSync(key)) {
    fs.mkdirSync(path.dirname(key), { recursive: true });
    fs.writeFileSync(key, crypto.randomBytes(1024), { mode: 0o400 });
    run('chown', ['munge:munge', key]);
  }
  fs.mkdirSync('/run/munge', { recursive: true });
  run('chown', ['munge:munge', '/run/munge']);
  const started = run(bin.munged, ['--force']);
  for (let i = 0; i < 50 && !works(); i++) spawnSync('sleep', ['0.1']);
  if (!works()) throw new Error(`Slurm test: munged did not start: ${started.out}`);
  return true;
}

export async function startLocalSlurm(): Promise<LocalSlurm> {
  const bin = slurmBinaries();
  if (process.getuid && process.getuid() !== 0) throw new Error('Slurm test: needs root (munge key, SlurmUser=root), as on CI');
  const startedMunge = ensureMunge(bin);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wraplab-slurm-'));
  for (const d of ['state', 'spool']) fs.mkdirSync(path.join(dir, d));
  const host = run('hostname', ['-s']).out.trim() || os.hostname();
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(
    conf,
    [
      'ClusterName=wraplabtest',
      `SlurmctldHost=${host}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'AuthType=auth/munge',
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'MpiDefault=none',
      `NodeName=${host} CPUs=${Math.max(2, os.cpus().length)} State=UNKNOWN`,
      `PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const stop = async () => {
    await stopPid(pidFromFile(path.join(dir, 'slurmd.pid')));
    await stopPid(pidFromFile(path.join(dir, 'slurmctld.pid')));
    if (startedMunge) await stopPid(pidFromFile(MUNGE_PID));
  };
  try {
    for (const daemon of ['slurmctld', 'slurmd']) {
      const r = run(bin[daemon], [], { env });
      if (!r.ok) throw new Error(`Slurm test: ${daemon} did not start: ${r.out}`);
    }
    for (let i = 0; ; i++) {
      const state = run(bin.sinfo, ['-h', '-o', '%t'], { env }).out.trim();
      if (state === 'idle') break;
      if (i > 300) {
        const log = fs.existsSync(path.join(dir, 'slurmctld.log')) ? fs.readFileSync(path.join(dir, 'slurmctld.log'), 'utf8').slice(-2000) : '';
        throw new Error(`Slurm test: the node did not become idle (sinfo: "${state}"); slurmctld.log:\n${log}`);
      }
      await sleep(100);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { conf, dir, stop };
}
