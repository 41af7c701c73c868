#!/usr/bin/env node
/**
 * Moves files and folders and rewrites every reference to them (issue 17's layout moves, run once
 * on a merged tree): `node dev/arch-move.mjs MAPPING.json [--dry-run] [--no-format]`, from anywhere
 * inside the repository. MAPPING is a JSON object `{ "old/path.ts": "new/path.ts", "old/folder": "new/folder" }`.
 *
 * 1. Refuses before touching anything when a source is missing, a target exists, the work tree has
 *    uncommitted changes to a moved path, or two entries overlap.
 * 2. Reads every tracked .ts/.mts/.mjs file as it is now (whatever others changed in it) and
 *    rewrites each relative module specifier (`import`/`export ... from`, `import()`, `vi.mock`,
 *    `vi.importActual`, `require`, `require.resolve`, `import.meta.resolve`) that resolves to a moved
 *    file or folder, or that sits in a moved file and points elsewhere; the specifier keeps its style
 *    (extension or not, folder index or not).
 * 3. Rewrites repository-relative path mentions (`activities/row-sets.ts`, `activities/row-sets`)
 *    in code comments and strings, eslint/vitest configs, package.json, Dockerfile and the
 *    Markdown files except CHANGELOG.md (history stays as written).
 * 4. `git mv` for each entry, writes the rewritten files, runs prettier on them, and lists every
 *    remaining mention of an old path (CHANGELOG, recorded histories, ...) for a person to judge.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, posix, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');
const format = !args.includes('--no-format');
const mappingFile = args.find((a) => !a.startsWith('--'));
if (!mappingFile) {
  console.error('usage: node dev/arch-move.mjs MAPPING.json [--dry-run] [--no-format]');
  process.exit(2);
}
const mappingText = readFileSync(resolve(mappingFile), 'utf8');
const git = (...a) => execFileSync('git', a, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();

const clean = (p) => posix.normalize(p.replace(/\\/g, '/')).replace(/\/$/, '');
const entries = Object.entries(JSON.parse(mappingText)).map(([from, to]) => ({ from: clean(from), to: clean(to) }));

// ---- 1. refuse what cannot be done exactly
const tracked = git('ls-files', '-z').split('\0').filter(Boolean);
const trackedSet = new Set(tracked);
const problems = [];
for (const { from, to } of entries) {
  const isDir = tracked.some((f) => f.startsWith(`${from}/`));
  if (!trackedSet.has(from) && !isDir) problems.push(`${from}: no tracked file or folder by that name (moved already?)`);
  if (existsSync(join(root, to))) problems.push(`${to}: exists already`);
}
for (const a of entries) {
  for (const b of entries) {
    if (a !== b && (b.from === a.from || b.from.startsWith(`${a.from}/`))) problems.push(`${a.from} and ${b.from}: overlapping entries`);
  }
}
const dirty = git('status', '--porcelain', '-z', '--', ...entries.map((e) => e.from))
  .split('\0')
  .filter(Boolean);
if (dirty.length > 0) problems.push(`uncommitted changes under moved paths: ${dirty.join(', ')}`);
if (problems.length > 0) {
  console.error(`arch-move: nothing done:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

/** Where a tracked file will be after the moves. */
function moved(path) {
  for (const { from, to } of entries) {
    if (path === from) return to;
    if (path.startsWith(`${from}/`)) return to + path.slice(from.length);
  }
  return path;
}

// ---- 2. module specifiers
const CODE = /\.(ts|mts|cts|mjs|cjs|js)$/;
const codeFiles = tracked.filter((f) => CODE.test(f) && !f.startsWith('node_modules/'));
const SOURCE_EXT = ['.ts', '.mts', '.cts', '.tsx', '.mjs', '.cjs', '.js', '.json'];
const isFile = (p) => trackedSet.has(p);
const isFolder = (p) => tracked.some((f) => f.startsWith(`${p}/`));

/**
 * What a relative specifier in `file` names, as it resolves today: `{ kind: 'file', path, ext }`
 * (ext: the extension written in the specifier, '' when left out; `.js` written for a `.ts` file
 * as node16 allows) or `{ kind: 'index', path: folder }`, or undefined when it names nothing tracked.
 */
function resolveSpecifier(file, spec) {
  const base = posix.normalize(posix.join(posix.dirname(file), spec));
  if (isFile(base)) return { kind: 'file', path: base, ext: extname(base) };
  const jsExt = extname(base);
  if (['.js', '.mjs', '.cjs'].includes(jsExt)) {
    const stem = base.slice(0, -jsExt.length);
    const ts = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' }[jsExt];
    if (isFile(stem + ts)) return { kind: 'file', path: stem + ts, ext: jsExt };
  }
  for (const ext of SOURCE_EXT) if (isFile(base + ext)) return { kind: 'file', path: base + ext, ext: '' };
  if (isFolder(base)) return { kind: 'index', path: base };
  return undefined;
}

/** The specifier from `newFile` to the new place of what `target` named, in the same style. */
function respecify(newFile, target) {
  let to;
  if (target.kind === 'index') to = moved(target.path);
  else {
    const dest = moved(target.path);
    if (target.ext === '') to = dest.slice(0, -extname(dest).length);
    else if (target.ext === extname(target.path)) to = dest;
    else to = dest.slice(0, -extname(dest).length) + target.ext; // `.js` written for a `.ts` file
  }
  let rel = posix.relative(posix.dirname(newFile), to);
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel === './' || rel === '.' ? './' : rel;
}

// `from './x'`, `import './x'`, `import('./x')`, `vi.mock('./x')`, `require('./x')`, `require.resolve('./x')`, `import.meta.resolve('./x')`.
const SPECIFIER =
  /(\bfrom\s*|\bimport\s*|\bimport\s*\(\s*|\b(?:vi|vitest)\.(?:mock|doMock|unmock|doUnmock|importActual|importMock)\s*\(\s*(?:import\s*\(\s*)?|\brequire(?:\.resolve)?\s*\(\s*|\bimport\.meta\.resolve\s*\(\s*)(['"])(\.{1,2}\/[^'"\n]*|\.{1,2})\2/g;

const contents = new Map(); // new path -> new text, for every file whose text changes
const specifierChanges = [];
const unresolved = [];
for (const file of codeFiles) {
  const text = readFileSync(join(root, file), 'utf8');
  const newFile = moved(file);
  const next = text.replace(SPECIFIER, (whole, lead, quote, spec) => {
    const target = resolveSpecifier(file, spec);
    if (!target) {
      if (newFile !== file) unresolved.push(`${file}: ${spec}`);
      return whole;
    }
    const targetMoves = moved(target.path) !== target.path;
    if (!targetMoves && newFile === file) return whole;
    const rewritten = respecify(newFile, target);
    if (rewritten === spec) return whole;
    specifierChanges.push(`${file}: ${spec} -> ${rewritten}`);
    return `${lead}${quote}${rewritten}${quote}`;
  });
  if (next !== text || newFile !== file) contents.set(newFile, next);
}
if (unresolved.length > 0) {
  console.error(`arch-move: nothing done: a moved file has relative specifiers that name no tracked file:\n  ${unresolved.join('\n  ')}`);
  process.exit(1);
}

// ---- 3. repository-relative mentions
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const mentionRules = entries.flatMap(({ from, to }) => {
  const rules = [{ re: new RegExp(`(?<![\\w./-])${escape(from)}(?![\\w-]|\\.\\w)`, 'g'), to, label: from }];
  const ext = extname(from);
  // `activities/row-sets` for `activities/row-sets.ts` (not followed by `.ts` or a longer name).
  if (ext && extname(to) === ext) {
    const stem = from.slice(0, -ext.length);
    rules.push({ re: new RegExp(`(?<![\\w./-])${escape(stem)}(?![\\w/-]|\\.\\w)`, 'g'), to: to.slice(0, -ext.length), label: stem });
  }
  // `activities/sql/...` under a moved folder.
  if (!ext) rules.push({ re: new RegExp(`(?<![\\w./-])${escape(from)}/`, 'g'), to: `${to}/`, label: `${from}/` });
  return rules;
});
const self = relative(root, new URL(import.meta.url).pathname).replace(/\\/g, '/');
const MENTIONS = (f) =>
  f !== self &&
  (CODE.test(f) || (f.endsWith('.md') && !/(^|\/)CHANGELOG\.md$/.test(f)) || f === 'package.json' || /(^|\/)Dockerfile$/.test(f)) &&
  !f.startsWith('test/histories/');
const mentionChanges = [];
for (const file of tracked.filter(MENTIONS)) {
  const newFile = moved(file);
  const text = contents.get(newFile) ?? readFileSync(join(root, file), 'utf8');
  let next = text;
  for (const { re, to } of mentionRules) next = next.replace(re, () => to);
  if (next !== text) {
    mentionChanges.push(file);
    contents.set(newFile, next);
  }
}

console.log(
  `arch-move: ${entries.length} move(s), ${specifierChanges.length} specifier(s) in ${new Set(specifierChanges.map((c) => c.split(':')[0])).size} file(s), mentions in ${mentionChanges.length} file(s)`,
);
if (dryRun) {
  for (const { from, to } of entries) console.log(`  git mv ${from} ${to}`);
  for (const c of specifierChanges) console.log(`  ${c}`);
  for (const f of mentionChanges) console.log(`  mentions: ${f}`);
  process.exit(0);
}

// ---- 4. move, write, format, report leftovers
for (const { from, to } of entries) {
  execFileSync('mkdir', ['-p', dirname(join(root, to))]);
  git('mv', from, to);
}
for (const [file, text] of contents) {
  const path = join(root, file);
  if (readFileSync(path, 'utf8') !== text) writeFileSync(path, text);
}
const touched = [...contents.keys()].filter((f) => /\.(ts|mts|mjs|md|json)$/.test(f));
if (format && touched.length > 0) {
  execFileSync(join(root, 'node_modules/.bin/prettier'), ['--write', '--log-level', 'warn', ...touched], { cwd: root, stdio: 'inherit' });
}
const leftovers = [];
const mappingPath = relative(root, resolve(mappingFile)).replace(/\\/g, '/');
for (const file of git('ls-files', '-z').split('\0').filter(Boolean)) {
  const path = join(root, file);
  if (file === mappingPath || file === self) continue;
  if (!existsSync(path) || statSync(path).size > 2_000_000) continue;
  const text = readFileSync(path, 'utf8');
  if (text.includes('\0')) continue;
  for (const { re, label } of mentionRules) {
    re.lastIndex = 0;
    if (re.test(text)) leftovers.push(`${file}: ${label}`);
  }
}
if (leftovers.length > 0)
  console.log(`mentions of old paths left as they are (history, recorded data; judge each):\n  ${[...new Set(leftovers)].join('\n  ')}`);
console.log(`done: ${relative(process.cwd(), root) || '.'}: review with git status, then npx tsc --noEmit -p . && npm run lint`);
