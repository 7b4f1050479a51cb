/**
 * The patient's web app in real Chromium (Debian's package, driven by playwright-core) against the
 * whole platform in-process: the gateway serving the built app and proxying to the command and
 * query APIs, the relay and projectors, the catalog CDC pipeline. A patient finds a hospital by
 * search, books, sees and cancels the appointment; a double click books once; the homepage still
 * renders from the in-process cache when the query API's Redis goes away; the ops page draws
 * charts. Screenshots go to web/test-results/; FCP and the homepage's requests are measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOf } from '../support/slot-stream-checks.ts';
import { waitFor } from '../support/wait.ts';
import { launchChromium } from './support/chromium.ts';
import { openDoor } from './support/closable-door.ts';
import { startQueryNode } from './support/query-node.ts';
import { startWebPlatform, type WebPlatform } from './support/web-platform.ts';

interface ResourceEntry {
  name: string;
  duration: number;
}

const results = fileURLToPath(new URL('../../web/test-results/', import.meta.url));
const PHONE = { width: 390, height: 844 };

describe('the patient web app in Chromium', () => {
  let platform: WebPlatform;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const measured: Record<string, unknown> = {};

  beforeAll(async () => {
    mkdirSync(results, { recursive: true });
    const t0 = Date.now();
    [platform, browser] = await Promise.all([startWebPlatform(), launchChromium()]);
    console.log(`[browser] platform and Chromium ${browser.version()} up in ${Date.now() - t0} ms`);
  }, 240_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await platform?.close();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: PHONE, locale: 'zh-CN', deviceScaleFactor: 2 });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: `${results}${name}.png`, fullPage: true });
  const homeUrl = () => `${platform.gateway.url}/?city=${encodeURIComponent(platform.city)}`;

  it('renders the homepage from one data request, and measures its first contentful paint', async () => {
    const page = await newPage();
    const api: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/v1/')) api.push(r.url());
    });
    await page.goto(homeUrl());
    await page.getByTestId('featured').getByText(platform.institutionName).waitFor();
    await page.getByTestId('banners').getByText('春季义诊').waitFor();
    // Runs in the page (the Performance API); typed here without the DOM library.
    const timing = await page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null;
      const resources = performance.getEntriesByType('resource') as unknown as ResourceEntry[];
      const data = resources
        .filter((e) => new URL(e.name).pathname.startsWith('/v1/'))
        .map((e) => ({ url: e.name, ms: e.duration }));
      return { fcp, data, resources: resources.map((e) => new URL(e.name).pathname) };
    });
    await shot(page, 'home');
    const homepageRequests = [...api];
    // The full list of the city, filtered and paged over the cursor.
    await page.getByText('查看全部医院').click();
    await page.getByTestId('institutions').getByText(platform.institutionName).waitFor();
    await page.getByText('已经到底了').waitFor();
    await shot(page, 'institutions');
    expect(homepageRequests).toHaveLength(1);
    expect(homepageRequests[0]).toContain('/v1/homepage?city=');
    expect(api.slice(1).every((url) => url.includes(`/v1/institutions?`))).toBe(true);
    expect(timing.fcp).not.toBeNull();
    Object.assign(measured, {
      fcpMs: timing.fcp,
      homepageDataRequests: timing.data.length,
      homepageDataMs: timing.data[0]?.ms,
      // The document itself, then every resource it loaded.
      homepageRequests: ['/', ...timing.resources],
    });
    console.log(
      `[browser] homepage: FCP ${timing.fcp?.toFixed(0)} ms, ${timing.data.length} data request(s) ` +
        `(${timing.data.map((d) => `${new URL(d.url).pathname} ${d.ms.toFixed(0)} ms`).join(', ')})`,
    );
  });

  it('finds a hospital by search, books a doctor, sees the appointment and cancels it', async () => {
    const page = await newPage();
    const [doctor] = platform.doctors;
    // The API's answers, said when the page does not show what it should (a flake seen once in CI:
    // the institution page never showed its name, with no trace of why).
    const answers: string[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/v1/'))
        answers.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    await page.goto(homeUrl());
    await page.getByTestId('search').fill(platform.institutionName);
    await page.getByTestId('search-results').getByText(platform.institutionName).click();
    await expect
      .poll(() => page.getByTestId('institution-name').textContent())
      .toBe(platform.institutionName)
      .catch(async (err: unknown) => {
        await shot(page, 'institution-failed').catch(() => undefined);
        throw new Error(
          `${String(err)}\nAPI answers: ${answers.join(', ')}\npage: ${await page.innerText('body')}`,
        );
      });
    await page.getByTestId('sign-in').click();
    await page.getByTestId('who').waitFor();
    await shot(page, 'institution');

    await page.getByTestId('doctors').locator('button.doctor').first().click();
    const row = page.locator(`[data-schedule="${doctor!.scheduleId}"]`);
    await expect.poll(() => row.getByTestId('remaining').textContent()).toContain('余 5/5');
    await shot(page, 'schedules');
    await row.getByTestId('book').click();
    await page.waitForURL(/\/appointments\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.getByTestId('appointment-status').textContent()).toBe('预约成功');
    await shot(page, 'appointment');

    await page.getByTestId('cancel').click();
    await expect.poll(() => page.getByTestId('appointment-status').textContent()).toBe('已取消');
    await shot(page, 'appointment-cancelled');
  });

  it('books once on a double click', async () => {
    const page = await newPage();
    const doctor = platform.doctors[1]!;
    const posts: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/appointments') posts.push(r.url());
    });
    await page.goto(`${platform.gateway.url}/institutions/${platform.institutionId}`);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('who').waitFor();
    await page.getByTestId('doctors').locator('button.doctor').nth(1).click();
    const book = page.locator(`[data-schedule="${doctor.scheduleId}"]`).getByTestId('book');
    await expect.poll(() => book.isEnabled()).toBe(true);
    await book.dblclick();
    await page.waitForURL(/\/appointments\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.getByTestId('appointment-status').textContent()).toBe('预约成功');

    // The write side: exactly one booking on the schedule's stream.
    const events = await eventsOf(platform.commands.pool, doctor.scheduleId);
    expect(events.filter((e) => e.type === 'AppointmentBooked')).toHaveLength(1);
    // And the read side agrees.
    const res = await platform.query.get(
      `/v1/doctors/${doctor.doctorId}/schedules?from=${doctor.date}&to=${doctor.date}`,
    );
    const body = (await res.json()) as { schedules: { booked: number }[] };
    expect(body.schedules[0]?.booked).toBe(1);
    console.log(`[browser] double click: ${posts.length} POST /v1/appointments sent, 1 appointment`);
    measured.doubleClickPosts = posts.length;
  });

  it('renders the homepage from the in-process cache when its Redis is gone', async () => {
    const redis = new URL(platform.config.REDIS_URL);
    const door = await openDoor({ host: redis.hostname, port: Number(redis.port || 6379) });
    const doorUrl = new URL(platform.config.REDIS_URL);
    doorUrl.host = new URL(door.url).host;
    const query = await startQueryNode(platform.config, { ...platform.queryOptions, redisUrl: doorUrl.href });
    const gateway = await platform.startGatewayOver(query);
    try {
      // Connected first: on a loaded host the new node's first Redis probe through the door can
      // still be pending, and its homepage a 503 the page would render (a CI run, 2026-12-01).
      await waitFor(
        async () =>
          (await query.get(`/v1/homepage?city=${encodeURIComponent(platform.city)}`)).status === 200
            ? true
            : undefined,
        { timeoutMs: 10_000, what: 'the homepage from the query API behind the door' },
      );
      const page = await newPage();
      const url = `${gateway.url}/?city=${encodeURIComponent(platform.city)}`;
      await page.goto(url);
      await page.getByTestId('featured').getByText(platform.institutionName).waitFor();
      await door.close();
      const stale = await waitFor(
        async () => {
          const res = await query.get(`/v1/homepage?city=${encodeURIComponent(platform.city)}`);
          return res.status === 200 && res.headers.get('x-data-stale')
            ? res.headers.get('x-data-stale')
            : undefined;
        },
        { timeoutMs: 10_000, what: 'the homepage served stale from the in-process cache' },
      );
      await page.reload();
      await page.getByTestId('featured').getByText(platform.institutionName).waitFor();
      await shot(page, 'home-redis-down');
      console.log(`[browser] homepage with Redis gone: rendered, X-Data-Stale: ${stale}`);
    } finally {
      await gateway.stop(500);
      await query.close();
      await door.close();
    }
  });

  it('shows the ops page with non-empty charts to an admin', async () => {
    const page = await newPage();
    await page.goto(`${platform.gateway.url}/ops`);
    await page.getByTestId('admin-sign-in').click();
    const chart = page.locator('[data-service="query-api"] polyline').first();
    await expect.poll(() => chart.getAttribute('points'), { timeout: 15_000 }).toMatch(/\d+(\.\d+)?,\d/);
    expect(await page.locator('[data-service="command-api"] polyline').count()).toBeGreaterThan(0);
    await shot(page, 'ops');
  });

  afterAll(() => {
    writeFileSync(`${results}metrics.json`, `${JSON.stringify(measured, null, 2)}\n`);
  });
});
