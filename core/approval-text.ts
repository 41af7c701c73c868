/** What Temporal Web, the alert and the CLI say about a plan: pure, shared by the workflow and the CLI. */
import type { ApprovalMemo } from './approval';
import { tablesMarkdown } from './run-text';

/** The exact commands that decide a plan. */
export function decisionCommands(workflowId: string): { approve: string; reject: string } {
  return { approve: `caretaker approve ${workflowId}`, reject: `caretaker reject ${workflowId} --note "why"` };
}

function countsLine(counts: Record<string, number>): string {
  return (
    Object.entries(counts)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || 'nothing'
  );
}

/** One line for alerts and `caretaker plans`: the rows per table the plan would change. */
export function planLine(memo: Pick<ApprovalMemo, 'rows' | 'tables'>): string {
  const tables = Object.entries(memo.tables).map(([t, c]) => `${t}: ${countsLine(c)}`);
  return `${memo.rows} row(s)${tables.length ? ` (${tables.join('; ')})` : ''}`;
}

/** The current details of a run waiting for its decision: why, what it would change per table, how to decide. */
export function awaitingDetails(workflowId: string, memo: ApprovalMemo): string {
  const { approve, reject } = decisionCommands(workflowId);
  return [
    `**AWAITING APPROVAL** · plan made ${memo.plannedAt}, expires ${memo.expiresAt ?? 'never'}; nothing has been changed yet`,
    '',
    `Why: ${memo.reasons.join('; ')}`,
    '',
    `Would change: ${countsLine(memo.counts)} · ${memo.rows} row(s)${memo.keys !== undefined ? ` · ${memo.keys} planned key(s), digest ${memo.keysDigest?.slice(0, 12)}` : ''}`,
    '',
    tablesMarkdown(memo.tables),
    '',
    `Approve: \`${approve}\``,
    '',
    `Reject: \`${reject}\``,
    '',
    '\u00a0',
  ].join('\n');
}

/** The current details while an approved plan is applied. */
export function applyingDetails(memo: ApprovalMemo): string {
  return `**APPLYING** the plan approved by ${memo.decidedBy} at ${memo.decidedAt}${memo.note ? ` (“${memo.note}”)` : ''}: only its ${memo.rows} row(s) that still match are changed.`;
}
