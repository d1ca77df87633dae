/**
 * The report in a real browser: Debian's chromium driven by puppeteer-core (no browser download).
 * The page must render without a console error or any request beyond itself, and the numbers
 * its charts and tables show (read from the DOM) must be `stats`' numbers. A screenshot is kept.
 *
 * Without chromium the test skips, saying so — unless REPORT_BROWSER_REQUIRED=1 (set by .ci/run,
 * which installs chromium first), where a missing browser is a failure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { report, type ReportResult } from '../src/report/run.js';
import { stats, type TreeStats } from '../src/ops/stats.js';
import { formatStats, type FormatStats } from '../src/ops/format-stats.js';
import { generateSampleLibrary } from '../src/sample/index.js';
import { CATEGORIES } from '../src/types.js';
import { FAKE_JPEG, makeTree, removeTree, tempDir } from './helpers/tree.js';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);
const chromium = CANDIDATES.find((p) => existsSync(p));
const required = process.env.REPORT_BROWSER_REQUIRED === '1';
const skip = chromium === undefined && !required ? `no chromium installed (looked for ${CANDIDATES.join(', ')}; apt-get install chromium)` : false;
if (skip) console.log(`# SKIP report-browser: ${skip}`);

/** Launch flags that work in containers and never touch the network. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

type Pairs = [string, number][];
interface ChartDom {
  bars: Pairs;
  barTexts: string[];
  barWidths: number[];
  table: Pairs;
  others: boolean;
}

describe('report in a real browser', { skip }, () => {
  let root: string;
  let shots: string;
  let page: ReportResult;
  let s: TreeStats;
  let f: FormatStats;

  before(async () => {
    assert.ok(chromium, `REPORT_BROWSER_REQUIRED=1 but no chromium at ${CANDIDATES.join(', ')}`);
    root = tempDir('isc-report-browser-');
    await generateSampleLibrary(join(root, 'lib'), { images: 400, seed: 3, formatMix: { json: 6, bin: 3, legacy: 1 } });
    makeTree({ 'lib/odd/<b>&"x".jpg': FAKE_JPEG, 'lib/odd/<b>&"x".json': '{"face_detection": ' }, root);
    shots = mkdtempSync(join(tmpdir(), 'image-sidecar-report-screenshot-'));
    page = await report(join(root, 'lib'), { output: join(shots, 'report.html') });
    s = await stats(join(root, 'lib'));
    f = await formatStats(join(root, 'lib'));
  });
  after(() => {
    if (root) removeTree(root);
  });

  it('renders without console errors, shows stats’ numbers, and leaves a screenshot', async () => {
    const { default: puppeteer } = await import('puppeteer-core');
    const profile = mkdtempSync(join(tmpdir(), 'isc-chromium-profile-'));
    const browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: [...FLAGS, `--user-data-dir=${profile}`] });
    try {
      const tab = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      tab.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(`console.${m.type()}: ${m.text()}`);
      });
      tab.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
      tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      tab.on('request', (r) => requests.push(r.url()));
      await tab.setViewport({ width: 1280, height: 900 });
      const url = pathToFileURL(page.path!).href;
      const resp = await tab.goto(url, { waitUntil: 'load' });
      assert.ok(resp?.ok() || url.startsWith('file:'), 'page loaded');

      const shot = join(shots, 'report.png');
      await tab.screenshot({ path: shot, fullPage: true });
      console.log(`# report screenshot: ${shot} (${statSync(shot).size} bytes), page: ${page.path} (${page.bytes} bytes)`);

      assert.deepEqual(problems, [], 'no console error, page error or failed request');
      assert.deepEqual(requests, [url], 'the page loads nothing but itself');
      assert.equal(await tab.$$eval('script', (n) => n.length), 0);

      // Every chart: bars (attributes and visible text) and table rows, as the browser has them.
      const charts = await tab.$$eval('figure.chart', (figs) =>
        Object.fromEntries(
          figs.map((fig) => {
            const bars = [...fig.querySelectorAll('rect.bar:not([data-others])')];
            const rows = [...fig.querySelectorAll('table.numbers tbody tr:not([data-others])')];
            const dom = {
              bars: bars.map((b) => [b.getAttribute('data-label')!, Number(b.getAttribute('data-value'))]),
              barTexts: [...fig.querySelectorAll('.bar-row:not(.others) text.value')].map((t) => t.textContent!.replaceAll(',', '')),
              barWidths: bars.map((b) => b.getBoundingClientRect().width),
              table: rows.map((r) => [r.querySelector('th')!.textContent!, Number(r.querySelector('td')!.textContent!.replaceAll(',', ''))]),
              others: fig.querySelector('[data-others]') !== null,
            };
            return [fig.getAttribute('data-chart')!, dom];
          }),
        ),
      ) as Record<string, ChartDom>;

      const expectChart = (id: string, expected: Record<string, number>, order?: string[]) => {
        const c = charts[id];
        assert.ok(c, `chart ${id} is on the page`);
        const want: Pairs = (order ?? Object.keys(expected)).map((k) => [k, expected[k] ?? 0]);
        const sortIfUnordered = (p: Pairs) => (order ? p : [...p].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
        assert.deepEqual(sortIfUnordered(c.table), sortIfUnordered(want), `${id}: table = stats`);
        if (want.some(([, v]) => v > 0)) {
          assert.deepEqual(sortIfUnordered(c.bars), sortIfUnordered(want), `${id}: bars = stats`);
          assert.deepEqual(c.barTexts, c.bars.map(([, v]) => String(v)), `${id}: the value printed at each bar`);
          c.bars.forEach(([label, v], i) => assert.equal(c.barWidths[i] > 0, v > 0, `${id}/${label}: a bar is drawn exactly when its value is > 0`));
        }
        assert.equal(c.others, false, `${id}: nothing cut`);
      };
      const buckets = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10+'];
      expectChart('faces', s.faces.per_image_histogram, buckets);
      expectChart('objects', s.objects.per_image_histogram, buckets);
      expectChart('operations', s.operation_counts);
      expectChart('grades', s.quality_grades);
      expectChart('categories', s.categories, [...CATEGORIES]);
      expectChart('effective-formats', s.format_distribution);
      expectChart('formats', f.format_distribution, ['Json', 'Binary', 'Rkyv', 'Legacy', 'Encrypted', 'Corrupt', 'Unreadable']);
      expectChart('extensions', f.extension_distribution);
      const identity = (s as TreeStats & { image_identity?: Record<string, number> }).image_identity;
      if (identity) expectChart('freshness', identity, ['current', 'stale', 'unknown']);
      else assert.equal(charts.freshness, undefined);
      // The sample has faces, objects and grades to show (not a vacuous comparison).
      assert.ok(s.faces.total > 0 && Object.keys(s.quality_grades).length > 1 && s.categories.orphan > 0);

      // Overview cards and the folder table.
      const cards = await tab.$$eval('li.card', (n) => Object.fromEntries(n.map((c) => [c.id, c.getAttribute('data-value')])));
      assert.equal(Number(cards['card-images']), s.total_images);
      assert.equal(Number(cards['card-images-with-sidecar']), s.images_with_sidecar);
      assert.equal(cards['card-coverage'], `${s.coverage_percentage} %`);
      assert.equal(Number(cards['card-sidecars']), s.total_sidecars);
      assert.equal(Number(cards['card-faces']), s.faces.total);
      assert.equal(Number(cards['card-objects']), s.objects.total);
      assert.equal(Number(cards['card-invalid-files']), page.validation.invalidFiles);
      const folders = await tab.$$eval('#folder-coverage tbody tr', (rows) => rows.map((r) => [Number(r.getAttribute('data-images')), Number(r.getAttribute('data-with-sidecar'))]));
      assert.equal(folders.reduce((n, [i]) => n + i, 0), s.total_images, 'folder rows add up to the image total');
      assert.equal(folders.reduce((n, [, c]) => n + c, 0), s.images_with_sidecar);

      // The invalid-file list, with the hostile name shown as text.
      const invalid = await tab.$$eval('#invalid-files > li', (n) => n.map((li) => li.querySelector('.path')!.textContent));
      assert.equal(invalid.length, Math.min(100, page.validation.invalidFiles));
      assert.ok(invalid.includes('odd/<b>&"x".json'), 'markup in a name is displayed literally');
      const made = await tab.$eval('#meta-version', (n) => n.textContent);
      assert.equal(made, page.model.meta.version);
    } finally {
      await browser.close();
      removeTree(profile);
    }
  });
});
