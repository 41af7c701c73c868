import type { DatabaseCheck, Finding } from '../worker/check-run';

export interface CheckCounts {
  errors: number;
  warnings: number;
}

const all = (checks: readonly DatabaseCheck[]): Finding[] => checks.flatMap((d) => [...d.findings, ...d.tasks.flatMap((t) => t.findings)]);

const errorCount = (findings: readonly Finding[]) => findings.filter((f) => f.severity === 'error').length;

/** Errors of every database and task; warnings of theirs and of the config (`validate`'s). */
export function countFindings(checks: readonly DatabaseCheck[], configWarnings: readonly string[]): CheckCounts {
  const findings = all(checks);
  const errors = errorCount(findings);
  return { errors, warnings: findings.length - errors + configWarnings.length };
}

const line = (f: Finding) => `    ${f.severity === 'error' ? 'error  ' : 'warning'}  ${f.message}`;

/** The human report: per database, per task, its errors and warnings. */
export function checkText(file: string, checks: readonly DatabaseCheck[], configWarnings: readonly string[]): string {
  const out = [`${file}: valid`, ...configWarnings.map((w) => `  warning  ${w}`)];
  for (const d of checks) {
    out.push(`database ${d.database}:`, ...d.findings.map(line));
    for (const t of d.tasks) {
      const state = !t.checked
        ? 'not checked against the database (validated only)'
        : errorCount(t.findings) > 0
          ? 'FAILED'
          : t.findings.length > 0
            ? 'ok, with warnings'
            : 'ok';
      out.push(`  ${t.task} (${t.type}): ${state}`, ...t.findings.map(line));
    }
  }
  const n = countFindings(checks, configWarnings);
  out.push(`${n.errors} error(s), ${n.warnings} warning(s)`);
  return out.join('\n');
}

/** Escapes the five characters XML reserves, for text and attribute values. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function testcase(name: string, classname: string, findings: readonly Finding[], skipped = false): string {
  const errors = findings.filter((f) => f.severity === 'error');
  const warnings = findings.filter((f) => f.severity === 'warning');
  const body = [
    ...(skipped ? ['<skipped message="not checked against the database (validated only)"/>'] : []),
    ...errors.map((f) => `<failure message="${xmlEscape(f.message)}" type="error">${xmlEscape(f.message)}</failure>`),
    ...(warnings.length > 0 ? [`<system-out>${xmlEscape(warnings.map((w) => `warning: ${w.message}`).join('\n'))}</system-out>`] : []),
  ];
  return `    <testcase name="${xmlEscape(name)}" classname="${xmlEscape(classname)}"${body.length ? `>\n      ${body.join('\n      ')}\n    </testcase>` : '/>'}`;
}

/** JUnit XML: one testsuite per database, one testcase per task (plus one for the database itself), a failure per error. */
export function checkJunit(checks: readonly DatabaseCheck[]): string {
  const suites = checks.map((d) => {
    const cases = [
      testcase('database', `caretaker.${d.database}`, d.findings),
      ...d.tasks.map((t) => testcase(t.task, `caretaker.${d.database}`, t.findings, !t.checked)),
    ];
    const failures = errorCount(all([d]));
    const skipped = d.tasks.filter((t) => !t.checked).length;
    return `  <testsuite name="caretaker check: ${xmlEscape(d.database)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  const failures = errorCount(all(checks));
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="caretaker check" failures="${failures}">\n${suites.join('\n')}\n</testsuites>\n`;
}
