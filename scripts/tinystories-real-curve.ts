/**
 * Held-out loss while pretraining the laptop TinyStories model on a real-format corpus, word tokenizer beside BPE.
 * Per token losses of different tokenizers are not comparable, so each row also gives nats per word (loss x tokens
 * per word of the held-out text). The held-out set: 16-story batches drawn from the held-out split (with
 * replacement, fixed), the same for every step.
 *
 *   npx tsx scripts/tinystories-real-curve.ts --source <dir|shard|txt> [--steps 600] [--every 100] [--preset laptop]
 */
import { Command } from 'commander';
import { initBackend } from '../lib/engine/backend';
import { batchLoss } from '../lib/engine/evaluate';
import { train } from '../lib/engine/train';
import { resolveConfig } from '../lib/experiments';
import * as tst from '../lib/experiments/tinystories';

async function main() {
  const o = new Command()
    .requiredOption('--source <path>', 'real stories')
    .option('--steps <n>', 'pretraining steps', '600')
    .option('--every <n>', 'held-out loss every n steps', '100')
    .option('--preset <p>', 'model, corpus size and schedule', 'laptop')
    .parse()
    .opts<{ source: string; steps: string; every: string; preset: string }>();
  await initBackend();
  const steps = Number(o.steps);
  for (const tokenizer of ['word', 'bpe'] as const) {
    const cfg = resolveConfig(tst.reft, o.preset as 'laptop', { corpus: { source: o.source, tokenizer } });
    const data = tst.tinyStoriesData(cfg.corpus, 0);
    const held = data.heldOut;
    const stats = tst.tokenizerStats(data.tokenizer, held, cfg.contextLength, 0);
    // Every held-out story once, in batches of 16 (one batch of all would not fit the wasm heap).
    const sampler = tst.makeInstructSampler(held, data.tokenizer, { seed: 1, contextLength: cfg.contextLength, appendEos: true });
    const batches = Array.from({ length: Math.ceil(held.length / 16) }, (_, i) => tst.trimBatch(sampler(i, 16)));
    const heldOutLoss = (m: typeof model) => {
      let sum = 0;
      let weight = 0;
      for (const b of batches) {
        const w = b.weights.reduce((a, x) => a + x, 0);
        sum += batchLoss(m, b) * w;
        weight += w;
      }
      return sum / weight;
    };
    const model = tst.tinyStoriesModel(cfg, data.tokenizer.vocabSize, 0);
    const t0 = Date.now();
    console.log(`${tokenizer}: ${data.tokenizer.vocabSize} entries, ${model.numParams()} parameters, ${held.length} held-out stories, ${stats.tokensPerWord.toFixed(3)} tokens/word, ${(100 * stats.spelledRate).toFixed(2)}% spelled`);
    console.log('step\tseconds\theld-out loss\tnats/word');
    await train({
      model,
      seed: 0,
      config: { ...cfg.pretrain, steps, evalEvery: Number(o.every), logEvery: Number(o.every), checkpointEvery: 0 },
      sampler: tst.storySampler(data.datasets.pretrain, data, cfg.contextLength, 0),
      evaluate: (m, step) => {
        const loss = heldOutLoss(m);
        console.log(`${step}\t${((Date.now() - t0) / 1000).toFixed(0)}\t${loss.toFixed(3)}\t${(loss * stats.tokensPerWord).toFixed(3)}`);
        return { 'heldout.loss': loss };
      },
    });
    model.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
