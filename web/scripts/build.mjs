// Builds the front-end into static/ (embedded by web.go), deterministically:
// the same sources and lockfile give byte-identical files.
//
//   node scripts/build.mjs                 build into static/
//   node scripts/build.mjs --out DIR       build into DIR
//   node scripts/build.mjs --check         build into a temp dir and fail if
//                                          static/ differs (a stale bundle)
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const staticDir = join(webDir, 'static');
// The budget the issue sets for everything a browser downloads to show the
// page, gzipped.
const GZIP_BUDGET = 500 * 1024;
// The page's own files (index.html, app-*.js, app-*.css) are what every
// visit downloads, and what the budget is for. The chunk-*.js files
// load on demand: the editor when a file is first opened, one grammar per
// language when a file of that language is; together they have a budget of
// their own.
const LAZY_BUDGET = 600 * 1024;

// What every bundle is built with.
const esbuildOptions = {
  absWorkingDir: webDir,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: 'out',
  write: false,
  legalComments: 'eof',
  sourcemap: false,
  charset: 'utf8',
  logLevel: 'warning',
};

const args = process.argv.slice(2);
const check = args.includes('--check');
const outIdx = args.indexOf('--out');
const outDir = check ? mkdtempSync(join(tmpdir(), 'codeterm-web-')) : outIdx >= 0 ? args[outIdx + 1] : staticDir;

try {
  await buildInto(outDir);
  const sizes = budget(outDir);
  if (check) {
    const diffs = compare(outDir, staticDir);
    if (diffs.length) {
      console.error(`web/static is stale: it differs from a fresh build of web/src:\n  ${diffs.join('\n  ')}\nRun "make web" (cd web && npm ci && npm run build) and commit web/static.`);
      process.exit(1);
    }
    console.log(`web/static is up to date (${sizes})`);
  } else {
    console.log(`built ${relative(process.cwd(), outDir) || '.'}: ${sizes}`);
  }
} finally {
  if (check) rmSync(outDir, { recursive: true, force: true });
}

async function buildInto(dir) {
  // Old hashed files would otherwise pile up (and be embedded) forever.
  rmSync(join(dir, 'assets'), { recursive: true, force: true });
  rmSync(join(dir, 'index.html'), { force: true });
  mkdirSync(join(dir, 'assets'), { recursive: true });
  const player = await buildChunk(dir, 'src/player.ts', 'player');
  const result = await build({
    ...esbuildOptions,
    entryPoints: ['src/main.ts'],
    // The editor (CodeMirror) and each of its languages are chunks of their
    // own, loaded when a file is first opened.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    metafile: true,
    // The replay page loads the player chunk by its hashed path.
    external: ['/assets/*'],
    define: {
      'process.env.NODE_ENV': '"production"',
      __PLAYER_JS__: JSON.stringify(`/${player.js}`),
      __PLAYER_CSS__: JSON.stringify(`/${player.css}`),
    },
  });
  // Names carry a hash of the content alone (esbuild's [hash] also covers
  // input paths, which differ between checkouts that link node_modules).
  // A file's content names the chunks it imports, so chunks are renamed
  // first and their new names written into their importers before those
  // are hashed in turn.
  const byPath = new Map(result.outputFiles.map((f) => [relative(webDir, f.path), f]));
  const renamed = new Map(); // esbuild's base name -> ours
  const names = {};
  const done = new Set();
  const emit = (out) => {
    if (done.has(out)) return;
    done.add(out);
    const meta = result.metafile.outputs[out];
    for (const imp of meta?.imports ?? []) if (!imp.external) emit(imp.path);
    const f = byPath.get(out);
    if (!f) throw new Error(`unexpected output ${out}`);
    let text = f.text;
    for (const imp of meta?.imports ?? []) {
      const from = imp.path.split('/').pop();
      text = text.split(from).join(renamed.get(from));
    }
    const ext = out.endsWith('.css') ? 'css' : out.endsWith('.js') ? 'js' : null;
    if (!ext) throw new Error(`unexpected output ${out}`);
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
    // main.ts and its CSS are the page's; everything else (shared chunks,
    // modules behind a dynamic import) loads on demand.
    const isEntry = meta?.entryPoint === 'src/main.ts' || (ext === 'css' && out.startsWith('out/main'));
    const name = isEntry ? `app-${hash}.${ext}` : `chunk-${hash}.${ext}`;
    renamed.set(out.split('/').pop(), name);
    if (isEntry) {
      if (names[ext]) throw new Error(`two entry ${ext} outputs`);
      names[ext] = `assets/${name}`;
    }
    writeFileSync(join(dir, 'assets', name), text);
  };
  for (const out of Object.keys(result.metafile.outputs).sort()) emit(out);
  const { js, css } = names;
  if (!js || !css) throw new Error('expected one entry .js and one .css output');
  const vnc = await buildVnc(dir);
  writeFileSync(join(dir, 'index.html'), indexHtml(`/${js}`, `/${css}`).replace('</head>', `<meta name="codeterm-vnc" content="/${vnc}">\n</head>`));
}

// The remote desktop viewer (noVNC) is a bundle of its own, loaded only when
// a desktop is opened; index.html names it for the app. It counts as an
// on-demand chunk.
async function buildVnc(dir) {
  const result = await build({ ...esbuildOptions, entryPoints: ['src/vnc.ts'] });
  if (result.outputFiles.length !== 1) throw new Error('expected one .js output for the VNC viewer');
  const f = result.outputFiles[0];
  const name = `assets/vnc-${createHash('sha256').update(f.contents).digest('hex').slice(0, 12)}.js`;
  writeFileSync(join(dir, name), f.contents);
  return name;
}

// buildChunk builds an entry loaded on demand (an ES module and its
// styles) into assets/NAME-HASH.{js,css}, named by content like the app.
async function buildChunk(dir, entry, name) {
  const result = await build({
    ...esbuildOptions,
    entryPoints: [entry],
    loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl' },
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const names = {};
  for (const f of result.outputFiles) {
    const ext = f.path.endsWith('.css') ? 'css' : f.path.endsWith('.js') ? 'js' : null;
    if (!ext) throw new Error(`unexpected output ${f.path}`);
    const hash = createHash('sha256').update(f.contents).digest('hex').slice(0, 12);
    names[ext] = `assets/${name}-${hash}.${ext}`;
    writeFileSync(join(dir, names[ext]), f.contents);
  }
  if (!names.js || !names.css) throw new Error(`expected one .js and one .css output for ${entry}`);
  return names;
}

function indexHtml(js, css) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover, interactive-widget=resizes-content">
<meta name="color-scheme" content="dark light">
<meta name="theme-color" content="#0b0e13">
<meta name="referrer" content="no-referrer">
<title>codeterm</title>
<link rel="icon" href="data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#5aa9f5"/><path d="M8 10l6 6-6 6M16 23h8" stroke="#06121f" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round"/></svg>')}">
<link rel="stylesheet" href="${css}">
<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"><noscript>codeterm needs JavaScript.</noscript></div>
</body>
</html>
`;
}

function files(dir, base = dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, base));
    else out.push(relative(base, p));
  }
  return out.sort();
}

function budget(dir) {
  let raw = 0;
  let gz = 0;
  let lazy = 0;
  for (const f of files(dir)) {
    const b = readFileSync(join(dir, f));
    const z = gzipSync(b, { level: 9 }).length;
    raw += b.length;
    if (/^assets\/(chunk|vnc|player)-/.test(f)) lazy += z;
    else gz += z;
  }
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  if (gz > GZIP_BUDGET) {
    console.error(`the page is ${kib(gz)} gzipped, over the ${kib(GZIP_BUDGET)} budget`);
    process.exit(1);
  }
  if (lazy > LAZY_BUDGET) {
    console.error(`the on-demand chunks are ${kib(lazy)} gzipped, over their ${kib(LAZY_BUDGET)} budget`);
    process.exit(1);
  }
  return `${kib(raw)} raw; the page ${kib(gz)} gzipped (budget ${kib(GZIP_BUDGET)}), on-demand chunks ${kib(lazy)} (budget ${kib(LAZY_BUDGET)})`;
}

function compare(fresh, committed) {
  const hash = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
  let have = [];
  try {
    have = files(committed);
  } catch {
    return ['web/static is missing'];
  }
  const want = files(fresh);
  const diffs = [];
  for (const f of want) {
    if (!have.includes(f)) diffs.push(`missing: ${f}`);
    else if (hash(join(fresh, f)) !== hash(join(committed, f))) diffs.push(`differs: ${f}`);
  }
  for (const f of have) if (!want.includes(f) && f !== '.gitkeep') diffs.push(`extra: ${f}`);
  return diffs;
}
