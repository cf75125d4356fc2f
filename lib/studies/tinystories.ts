/** The TinyStories study (paper §5: Fig 11, Table 1, Figs 31-38): the reFT experiment and the probes, one table. */
import { spec } from '../experiments/run';
import { probe, reft, type TinyStoriesProbeResults, type TinyStoriesReftResults } from '../experiments/tinystories/experiments';
import type { Preset } from '../experiments/define';
import { defineStudy } from './study';

export interface TinyStoriesTable {
  preset: Preset;
  reft: TinyStoriesReftResults;
  probe: TinyStoriesProbeResults;
}

export const tinyStoriesStudy = defineStudy({
  id: 'tinystories',
  title: 'TinyStories: Fig 11, Table 1, Figs 31-38',
  // Both experiments declare their stages (2 pretrainings, 2 evaluations, 6 deletions, 7 reFTs, 8 probes): the
  // scheduler trains the independent ones side by side.
  plan: () => ({ reft: spec(reft), probe: spec(probe) }),
  table: (r, { preset }): TinyStoriesTable => ({ preset, reft: r.reft.results, probe: r.probe.results }),
});

export const TINYSTORIES_STUDIES = [tinyStoriesStudy] as const;
