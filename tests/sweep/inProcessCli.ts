import { main } from '../../lib/cli';

/** Runs the wraplab CLI in this process and captures what it prints. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [log, error] = [console.log, console.error];
  let out = '';
  let err = '';
  console.log = (...a: unknown[]) => void (out += a.join(' ') + '\n');
  console.error = (...a: unknown[]) => void (err += a.join(' ') + '\n');
  try {
    return { code: await main(args), out, err };
  } finally {
    [console.log, console.error] = [log, error];
  }
}
