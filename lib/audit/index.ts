/**
 * Wrapper audits (issue: the paper's method as a tool): is a pretrained capability still there under a fine-tune?
 * `audit({ base, tuned, capability })` runs behaviour, weight-change, probe, pruning, patching and reverse
 * fine-tuning evidence and decides wrapped / removed / inconclusive from documented thresholds.
 */
export { AUDIT_PRESETS, audit, taskCapability } from './audit';
export type { AuditOptions, AuditOutcome, AuditPresetConfig, AuditResult } from './audit';
export { CapabilityError, checkFits, readCapabilityFile, toBatch } from './capability';
export type { Capability, CapabilityExample, CapabilitySet } from './capability';
export * from './evidence';
export { AuditModelError, auditModel, loadAuditModel, modelDigest } from './models';
export type { AuditModel } from './models';
export { auditFigures, auditReportHtml } from './report';
export { AUDIT_THRESHOLDS, decide } from './verdict';
export type { AuditThresholds, Verdict, VerdictName } from './verdict';
