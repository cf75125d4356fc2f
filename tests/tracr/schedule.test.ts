import test from 'node:test';
import assert from 'node:assert/strict';
import { scheduleNodes } from '../../lib/tasks/tracr';

test('schedule: MLP-first program puts the map in M0 and the next attention in A1', () => {
  const s = scheduleNodes([
    { label: 'bin', kind: 'mlp', deps: ['tokens'] },
    { label: 'count', kind: 'attn+mlp', deps: ['bin', 'indices'] },
    { label: 'out', kind: 'attn', deps: ['indices', 'count'] },
  ]);
  assert.equal(s.nLayers, 3);
  assert.deepEqual(s.placements.get('bin'), { mlpLayer: 0, readySlot: 1 });
  assert.deepEqual(s.placements.get('count'), { attnLayer: 1, mlpLayer: 1, readySlot: 3 });
  assert.deepEqual(s.placements.get('out'), { attnLayer: 2, readySlot: 4 });
});

test('schedule: independent blocks share a half-layer; a map after attention uses the same layer', () => {
  const s = scheduleNodes([
    { label: 'h1', kind: 'attn', deps: ['tokens'] },
    { label: 'h2', kind: 'attn', deps: ['indices'] },
    { label: 'm', kind: 'mlp', deps: ['h1'] },
    { label: 'm2', kind: 'mlp', deps: ['m'] },
  ]);
  assert.equal(s.placements.get('h1')!.attnLayer, 0);
  assert.equal(s.placements.get('h2')!.attnLayer, 0);
  assert.equal(s.placements.get('m')!.mlpLayer, 0);
  assert.equal(s.placements.get('m2')!.mlpLayer, 1);
  assert.equal(s.nLayers, 2);
});

test('schedule: a program with no blocks still has one (empty) layer', () => {
  assert.equal(scheduleNodes([]).nLayers, 1);
});
