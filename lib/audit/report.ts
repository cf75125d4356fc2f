/**
 * The audit's report page: the verdict and its reasons, one figure per line of evidence and the tables behind
 * them, in one HTML file that opens offline (plotly.js inlined once).
 */
import { plotlyJs, type Figure } from '../figures/figure';
import type { AuditResult } from './audit';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–');
const ci = (e: { value: number; lo: number; hi: number }) => `${pct(e.value)} <small>[${pct(e.lo)}, ${pct(e.hi)}]</small>`;
const errorY = (es: { value: number; lo: number; hi: number }[]) => ({ type: 'data', symmetric: false, array: es.map((e) => e.hi - e.value), arrayminus: es.map((e) => e.value - e.lo) });

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The report's figures: pure functions of the audit result. */
export function auditFigures(r: AuditResult): { id: string; title: string; figure: Figure }[] {
  const e = r.evidence;
  const judged = e.behaviour[0].pt.rate !== undefined;
  const figs: { id: string; title: string; figure: Figure }[] = [];
  figs.push({
    id: 'behaviour',
    title: `Behaviour: O_PT (and O_FT) accuracy${judged ? ' and the judged rate' : ''} per model, 95% intervals`,
    figure: {
      data: [
        { type: 'bar', name: `O_PT: ${r.capability.pt}`, x: e.behaviour.map((b) => b.model), y: e.behaviour.map((b) => b.pt.accuracy.value), error_y: errorY(e.behaviour.map((b) => b.pt.accuracy)), hovertemplate: '%{x}: %{y:.1%}<extra>O_PT</extra>' },
        ...(r.capability.ft ? [{ type: 'bar', name: `O_FT: ${r.capability.ft}`, x: e.behaviour.map((b) => b.model), y: e.behaviour.map((b) => b.ft!.accuracy.value), error_y: errorY(e.behaviour.map((b) => b.ft!.accuracy)), hovertemplate: '%{x}: %{y:.1%}<extra>O_FT</extra>' }] : []),
        ...(judged ? [{ type: 'bar', name: e.reft.measure, x: e.behaviour.map((b) => b.model), y: e.behaviour.map((b) => b.pt.rate!.value), error_y: errorY(e.behaviour.map((b) => b.pt.rate!)), hovertemplate: '%{x}: %{y:.1%}<extra>judged</extra>' }] : []),
      ],
      layout: { barmode: 'group', yaxis: { title: { text: 'accuracy' }, range: [0, 1.05], tickformat: '.0%' } },
    },
  });
  figs.push({
    id: 'weights',
    title: 'Weight change: relative norm ‖ΔW‖/‖W‖ and effective rank per matrix',
    figure: {
      data: [
        { type: 'bar', name: 'relative norm', x: e.weights.matrices.map((m) => m.param), y: e.weights.matrices.map((m) => m.relativeNorm), hovertemplate: '%{x}: %{y:.3g}<extra>‖ΔW‖/‖W‖</extra>' },
        { type: 'scatter', mode: 'markers', name: 'effective rank', yaxis: 'y2', x: e.weights.matrices.map((m) => m.param), y: e.weights.matrices.map((m) => m.effectiveRank), hovertemplate: '%{x}: %{y:.2f}<extra>effective rank</extra>' },
      ],
      layout: { xaxis: { tickangle: -45, automargin: true }, yaxis: { title: { text: '‖ΔW‖ / ‖W_base‖' }, type: 'log' }, yaxis2: { title: { text: 'effective rank of ΔW' }, overlaying: 'y', side: 'right', rangemode: 'tozero' }, legend: { orientation: 'h', y: 1.12 } },
    },
  });
  if (e.probes) {
    const p = e.probes;
    figs.push({
      id: 'probes',
      title: `Probes: O_PT label read from each block (${p.classes} classes), beside the majority baseline and an untrained model`,
      figure: {
        data: [
          ...p.lines.map((l) => ({ type: 'scatter', mode: 'lines+markers', name: l.model, x: p.layers, y: l.accuracy.map((a) => a.value), error_y: errorY(l.accuracy), hovertemplate: '%{x}: %{y:.1%}<extra>' + l.model + '</extra>' })),
          { type: 'scatter', mode: 'lines', name: 'majority baseline', x: p.layers, y: p.layers.map(() => p.majority), line: { dash: 'dot', color: 'grey' }, hovertemplate: 'majority: %{y:.1%}<extra></extra>' },
        ],
        layout: { yaxis: { title: { text: 'probe test accuracy' }, range: [0, 1.05], tickformat: '.0%' }, xaxis: { title: { text: 'block (resid_post at the answer position)' } } },
      },
    });
  }
  const kinds = Object.entries(e.pruning.sweeps) as [string, AuditResult['evidence']['pruning']['sweeps']['neurons']][];
  const kMax = Math.max(...kinds.map(([, rows]) => rows.at(-1)!.k));
  figs.push({
    id: 'pruning',
    title: 'Pruning the tuned model: units removed one by one (each the one that most lowers the O_PT loss) vs accuracy',
    figure: {
      data: [
        ...kinds.map(([kind, rows]) => ({ type: 'scatter', mode: 'lines+markers', name: `O_PT, ${kind}`, x: rows.map((p) => p.k), y: rows.map((p) => p.pt.value), error_y: errorY(rows.map((p) => p.pt)), text: rows.map((p) => p.unit ?? 'none'), hovertemplate: `k=%{x} (%{text}): %{y:.1%}<extra>O_PT, ${kind}</extra>` })),
        ...kinds.filter(([, rows]) => rows[0].ft).map(([kind, rows]) => ({ type: 'scatter', mode: 'lines', line: { dash: 'dash' }, name: `O_FT, ${kind}`, x: rows.map((p) => p.k), y: rows.map((p) => p.ft!.value), hovertemplate: `k=%{x}: %{y:.1%}<extra>O_FT, ${kind}</extra>` })),
        ...(judged ? kinds.map(([kind, rows]) => ({ type: 'scatter', mode: 'lines+markers', line: { dash: 'dashdot' }, name: `judged rate, ${kind}`, x: rows.map((p) => p.k), y: rows.map((p) => p.rate!.value), error_y: errorY(rows.map((p) => p.rate!)), hovertemplate: `k=%{x}: %{y:.1%}<extra>judged rate, ${kind}</extra>` })) : []),
        { type: 'scatter', mode: 'lines', name: 'one constant answer', x: [0, kMax], y: [e.pruning.chance, e.pruning.chance], line: { dash: 'dot', color: 'grey' }, hovertemplate: 'constant answer: %{y:.1%}<extra></extra>' },
      ],
      layout: { xaxis: { title: { text: 'units pruned' }, dtick: 1 }, yaxis: { title: { text: 'accuracy' }, range: [0, 1.05], tickformat: '.0%' } },
    },
  });
  figs.push({
    id: 'patching',
    title: 'Cross-model patching: the tuned model with one component taken from the base model (O_PT accuracy)',
    figure: {
      data: [
        { type: 'bar', name: 'patched', x: e.patching.rows.map((p) => p.component), y: e.patching.rows.map((p) => p.accuracy.value), error_y: errorY(e.patching.rows.map((p) => p.accuracy)), hovertemplate: '%{x}: %{y:.1%}<extra>patched</extra>' },
        { type: 'scatter', mode: 'lines', name: 'base', x: e.patching.rows.map((p) => p.component), y: e.patching.rows.map(() => e.patching.base.accuracy.value), line: { dash: 'dash' }, hovertemplate: 'base: %{y:.1%}<extra></extra>' },
        { type: 'scatter', mode: 'lines', name: 'tuned', x: e.patching.rows.map((p) => p.component), y: e.patching.rows.map(() => e.patching.tuned.accuracy.value), line: { dash: 'dot' }, hovertemplate: 'tuned: %{y:.1%}<extra></extra>' },
      ],
      layout: { yaxis: { title: { text: 'O_PT accuracy' }, range: [0, 1.05], tickformat: '.0%' } },
    },
  });
  figs.push({
    id: 'reft',
    title: `Reverse fine-tuning on O_PT: the tuned model against ${e.reft.control} (target ${pct(e.reft.target)})`,
    figure: {
      data: [
        ...e.reft.curves.map((c) => ({ type: 'scatter', mode: 'lines+markers', name: `${c.model} (seed ${c.seed})`, x: c.steps.map((s) => Math.max(s, 0.5)), y: c.score, hovertemplate: 'step %{x}: %{y:.1%}<extra>' + c.model + '</extra>' })),
        { type: 'scatter', mode: 'lines', name: 'target', x: [0.5, r.settings.reft.steps], y: [e.reft.target, e.reft.target], line: { dash: 'dot', color: 'grey' }, hoverinfo: 'skip' },
      ],
      layout: { xaxis: { title: { text: 'reFT step (log axis; step 0 drawn at 0.5)' }, type: 'log', tickvals: [0.5, ...r.settings.reft.evalSteps], ticktext: ['0', ...r.settings.reft.evalSteps.map(String)] }, yaxis: { title: { text: e.reft.measure }, range: [0, 1.05], tickformat: '.0%' } },
    },
  });
  return figs;
}

export function auditReportHtml(r: AuditResult): string {
  const e = r.evidence;
  const figs = auditFigures(r);
  const sections = figs.map((f, i) => `<h2>${esc(f.title)}</h2><div id="fig${i}" class="fig"></div>`);
  const scripts = figs.map((f, i) => `Plotly.newPlot('fig${i}', ${JSON.stringify(f.figure.data).replace(/</g, '\\u003c')}, ${JSON.stringify({ margin: { t: 20 }, height: 420, ...f.figure.layout }).replace(/</g, '\\u003c')}, {responsive: true});`);
  const models = table(['role', 'label', 'source', 'parameters', 'weights sha256'], r.models.map((m) => [m.role, esc(m.label), esc(m.source), String(m.params), `<code>${m.digest.slice(0, 12)}</code>`]));
  const judged = e.behaviour[0].pt.rate !== undefined;
  const behaviour = table(
    ['model', 'O_PT accuracy', 'O_PT loss', 'O_FT accuracy', ...(judged ? [esc(e.reft.measure)] : [])],
    e.behaviour.map((b) => [esc(b.model), ci(b.pt.accuracy), `${b.pt.loss.value.toFixed(3)} <small>[${b.pt.loss.lo.toFixed(3)}, ${b.pt.loss.hi.toFixed(3)}]</small>`, b.ft ? ci(b.ft.accuracy) : '–', ...(judged ? [ci(b.pt.rate!)] : [])]),
  );
  const weights = table(['matrix', 'shape', '‖ΔW‖/‖W‖', 'effective rank', 'rank (90% energy)'], e.weights.matrices.map((m) => [m.param, m.shape.join('×'), m.relativeNorm.toPrecision(3), m.effectiveRank.toFixed(2), String(m.rank90)]));
  const patch = table(['component from base', 'O_PT accuracy', 'share of the gap restored'], e.patching.rows.map((p) => [p.component, ci(p.accuracy), p.restored === null ? '–' : pct(p.restored)]));
  const reft = table(['model', 'seed', 'steps to target'], e.reft.curves.map((c) => [esc(c.model), String(c.seed), c.stepsToTarget === null ? `not within ${r.settings.reft.steps}` : String(c.stepsToTarget)]));
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>wraplab audit: ${esc(r.verdict.verdict)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}.verdict{font-size:28px;font-weight:600}.fig{width:100%;height:420px}small{color:#666}</style>
<script>${plotlyJs()}</script></head>
<body>
<h1>Wrapper audit</h1>
<p class="verdict">Verdict: ${esc(r.verdict.verdict)}</p>
<ul>${r.verdict.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>
<p>Capability O_PT: <b>${esc(r.capability.pt)}</b>${r.capability.ft ? `, O_FT: <b>${esc(r.capability.ft)}</b>` : ''}; ${r.capability.examples} examples; preset ${r.preset}, seed ${r.seed}. Thresholds: <code>${esc(JSON.stringify(r.thresholds))}</code></p>
${models}
<h2>Behaviour</h2>${behaviour}
${sections.join('\n')}
<h2>Tables</h2>
<h3>Weight change</h3><p>Share of ‖ΔW‖² by part: ${Object.entries(e.weights.byPart).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}</p>${weights}
<h3>Patching</h3>${patch}
<h3>Reverse fine-tuning</h3>${reft}
<script>${scripts.join('\n')}</script>
</body></html>
`;
}
