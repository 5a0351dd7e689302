import { expect, test, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

const user = process.env.CAUSEWAY_USER ?? "";
const password = process.env.CAUSEWAY_PASSWORD ?? "";
const screenshots = process.env.CAUSEWAY_SCREENSHOTS ?? "screenshots";

/** Collects what the browser refused under the Content-Security-Policy. */
function policyViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  return violations;
}

async function signIn(page: Page, as: string = user): Promise<void> {
  await page.goto("/console/");
  // The hub's own sign-in page (the built-in OpenID Connect provider).
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await page.getByLabel("User name").fill(as);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalogue" })).toBeVisible();
}

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.id}: ${violation.help}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
    );
}

test("a person signs in, browses the catalogue in two languages and signs out", async ({ page }) => {
  const violations = policyViolations(page);
  await page.goto("/console/");
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await page.screenshot({ path: `${screenshots}/sign-in-1280x800.png` });
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("user name or password is wrong");

  await page.getByLabel("Password").fill(password);
  await page.getByLabel("User name").fill(user);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalogue" })).toBeVisible();
  await expect(page.getByTestId("who")).toHaveText(process.env.CAUSEWAY_PERSON_NAME ?? user);

  // Every published dataset, by department, and a search that narrows them.
  await expect(page.getByRole("link", { name: "Residents" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Holdings" })).toBeVisible();
  await page.getByLabel("Search datasets").fill("holdings");
  await expect(page.getByRole("link", { name: "Residents" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Holdings" })).toBeVisible();
  await page.getByLabel("Search datasets").fill("");
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: `${screenshots}/catalogue-1280x800.png`, fullPage: true });

  // A dataset's contract: its fields, types and classifications.
  await page.getByRole("link", { name: "Residents" }).click();
  const fields = page.locator(".el-table");
  await expect(fields).toContainText("id_number");
  await expect(fields).toContainText("pii.national_id");
  await expect(page.getByTestId("versions")).toContainText("Version 1, by");
  await expect(page.getByText("Requests decided within")).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: `${screenshots}/dataset-1280x800.png`, fullPage: true });

  // Chinese, and back.
  await page.getByRole("button", { name: /Switch to Chinese/ }).click();
  await expect(page.getByRole("heading", { name: "字段" })).toBeVisible();
  await page.getByRole("link", { name: "返回数据目录" }).click();
  await expect(page.getByRole("heading", { name: "数据目录" })).toBeVisible();
  await page.getByRole("button", { name: /切换到英文/ }).click();

  // At a phone's size the catalogue still reads.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole("link", { name: "Residents" })).toBeVisible();
  await page.screenshot({ path: `${screenshots}/catalogue-390x844.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Signed out: the console forgets the token and the hub the refresh token; the next
  // visit starts at the sign-in page again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByText("You are signed out.")).toBeVisible();
  await page.goto("/console/");
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  expect(violations).toEqual([]);
});

test("a reloaded console signs in again, since the token lives only in memory", async ({ page }) => {
  await signIn(page);
  await page.reload();
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
});

test("a console left alone for half an hour signs out", async ({ page }) => {
  await page.clock.install();
  await signIn(page);
  await page.clock.fastForward("20:00");
  await page.getByRole("link", { name: "Grants" }).click();
  await expect(page.getByRole("heading", { name: "Grants" })).toBeVisible();
  // Twenty minutes of nothing since the click is not yet enough; thirty-one are.
  await page.clock.fastForward("20:00");
  await expect(page.getByTestId("who")).toBeVisible();
  await page.clock.fastForward("09:30");
  await expect(page.getByRole("alert")).toContainText("You will be signed out in a minute");
  await page.clock.fastForward("01:00");
  await expect(page.getByText("You were signed out after 30 minutes without use.")).toBeVisible();
  await page.goto("/console/");
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
});

test("an analyst asks for access; the publisher and the officer each try it, then approve", async ({ browser }) => {
  const publisher = process.env.CAUSEWAY_PUBLISHER ?? "";
  const officer = process.env.CAUSEWAY_OFFICER ?? "";

  // The analyst asks, from the dataset's page.
  const analystPage = await (await browser.newContext()).newPage();
  await signIn(analystPage);
  await analystPage.getByRole("link", { name: "Residents" }).click();
  for (const column of ["name", "town", "grid_id"]) {
    await analystPage.getByRole("checkbox", { name: column, exact: true }).check();
  }
  await analystPage.getByLabel("Purpose", { exact: true }).fill("elderly-care");
  await analystPage.getByLabel("Why the purpose needs them").fill("home visits in my grid");
  await analystPage.getByRole("button", { name: "Send the request" }).click();
  await expect(analystPage.getByRole("status")).toContainText("waits for the owner's and the security officer's decisions");
  await analystPage.screenshot({ path: `${screenshots}/request-access-1280x800.png`, fullPage: true });

  // The publisher tries the grant with a mask and a row filter, sees the rows as the analyst
  // would, and approves it so.
  const publisherPage = await (await browser.newContext()).newPage();
  await signIn(publisherPage, publisher);
  await publisherPage.getByRole("link", { name: "Access requests" }).click();
  await expect(publisherPage.getByText("waiting", { exact: true })).toBeVisible();
  await publisherPage.getByRole("button", { name: "Review" }).click();
  await publisherPage.getByLabel("How name is shown").selectOption("partial");
  await publisherPage.getByLabel("Row filter").fill("grid_id = 'GC-001'");
  await publisherPage.getByRole("button", { name: "Dry run" }).click();
  const sample = publisherPage.getByTestId("dry-run");
  await expect(sample).toContainText("1 of at most 20 rows");
  await expect(sample).toContainText("GC-001");
  await expect(sample).not.toContainText("DL-004");
  await expect(sample).not.toContainText("Wang Fang");
  expect(await seriousViolations(publisherPage)).toEqual([]);
  await publisherPage.screenshot({ path: `${screenshots}/dry-run-1280x800.png`, fullPage: true });
  await publisherPage.getByRole("button", { name: "Approve" }).click();
  await expect(publisherPage.getByRole("button", { name: "Review" })).toHaveCount(0);

  // The officer's try has the publisher's terms; a refusal without a reason is not sent.
  const officerPage = await (await browser.newContext()).newPage();
  await signIn(officerPage, officer);
  await officerPage.getByRole("link", { name: "Access requests" }).click();
  await officerPage.getByRole("button", { name: "Review" }).click();
  await officerPage.getByRole("button", { name: "Refuse" }).click();
  await expect(officerPage.getByRole("alert")).toContainText("Give a reason to refuse");
  await officerPage.getByRole("button", { name: "Dry run" }).click();
  await expect(officerPage.getByTestId("dry-run")).toContainText("grid_id = 'GC-001'");
  await expect(officerPage.getByTestId("dry-run")).toContainText("1 of at most 20 rows");
  await officerPage.getByRole("button", { name: "Approve" }).click();
  await expect(officerPage.getByText("approved", { exact: true })).toBeVisible();

  // The officer watches queries as they happen.
  await officerPage.getByRole("link", { name: "Supervision" }).click();
  await expect(officerPage.getByRole("heading", { name: "Supervision" })).toBeVisible();
  await expect(officerPage.getByRole("status").filter({ hasText: "records shown" })).toContainText("Live");

  // The analyst sees it approved, and runs a query in the workbench: masked names, their
  // grid only, and the grant it was read under.
  await analystPage.getByRole("navigation").getByRole("link", { name: "Access requests" }).click();
  await expect(analystPage.getByText("approved", { exact: true })).toBeVisible();
  await analystPage.getByRole("link", { name: "SQL workbench" }).click();
  await analystPage.getByLabel("SQL", { exact: true }).fill("SELECT name, town, grid_id FROM civil_affairs.residents");
  await analystPage.getByLabel("Purpose", { exact: true }).fill("elderly-care");
  await analystPage.getByRole("button", { name: "Run" }).click();
  const result = analystPage.getByTestId("result");
  await expect(result).toContainText("W****");
  await expect(result).toContainText("GC-001");
  await expect(result).not.toContainText("DL-004");
  await expect(result).not.toContainText("Wang Fang");
  await expect(analystPage.getByRole("status")).toHaveText("Rows: 1");
  await expect(analystPage.getByTestId("applied")).toContainText("grid_id = 'GC-001'");
  expect(await seriousViolations(analystPage)).toEqual([]);
  await analystPage.screenshot({ path: `${screenshots}/workbench-1280x800.png`, fullPage: true });

  // The officer saw that query arrive, and narrows the view to its purpose.
  const live = officerPage.getByTestId("live");
  const query = live.locator("tr", { hasText: "query.finished" }).filter({ hasText: "wang.fang" }).first();
  await expect(query).toContainText("elderly-care");
  await expect(query).toContainText("civil_affairs.residents");
  await officerPage.getByLabel("Purpose", { exact: true }).fill("elderly-care");
  await officerPage.getByRole("button", { name: "Apply filters" }).click();
  await expect(live.locator("tbody tr").first()).toContainText("elderly-care");
  await expect(live).not.toContainText("audit.read");
  // The charts count it: one query of civil affairs today, and its one row.
  await expect(officerPage.getByTestId("queries-chart").getByRole("img")).toHaveAttribute("aria-label", /civil_affairs 1$/);
  await expect(officerPage.getByTestId("rows-chart").getByRole("img")).toHaveAttribute("aria-label", /civil_affairs 1$/);
  expect(await seriousViolations(officerPage)).toEqual([]);
  await officerPage.screenshot({ path: `${screenshots}/supervision-1280x800.png`, fullPage: true });

  // The officer finds the grant, with who asked for and approved it, and revokes it.
  await officerPage.getByRole("link", { name: "Grants" }).click();
  await officerPage.getByLabel("Search grants").fill("residents");
  const grant = officerPage.locator(".el-card", { hasText: "requested by wang.fang" });
  await expect(grant).toContainText("approved by li.na, zhao.lei");
  await expect(grant).toContainText("grid_id = 'GC-001'");
  await expect(grant).toContainText("partial (first 1, last 0)");
  expect(await seriousViolations(officerPage)).toEqual([]);
  await officerPage.screenshot({ path: `${screenshots}/grants-1280x800.png`, fullPage: true });
  await grant.getByRole("button", { name: "Revoke" }).click();
  await grant.getByRole("button", { name: "Press again to revoke" }).click();
  await expect(officerPage.locator(".el-card", { hasText: "requested by wang.fang" })).toHaveCount(0);

  // The analyst's next query is refused, in a sentence, and the officer sees the refusal.
  await analystPage.getByRole("button", { name: "Run" }).click();
  await expect(analystPage.getByRole("alert")).toContainText("You may not do this");
  await officerPage.getByRole("link", { name: "Supervision" }).click();
  const refusal = officerPage.getByTestId("live").locator("tr", { hasText: "query.refused" }).first();
  await expect(refusal).toContainText("refused");
  await expect(refusal).toContainText("grant");
});

test("a grid worker on a phone finds a household of their grid, and nobody of another", async ({ browser }) => {
  const worker = process.env.CAUSEWAY_GRID_WORKER ?? "";
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  const violations = policyViolations(page);
  await signIn(page, worker);
  await page.getByRole("link", { name: "My area" }).click();
  await expect(page.getByText("civil_affairs.residents, where grid_id = 'GC-002'")).toBeVisible();
  await expect(page.getByText("Masked under your grant: id_number.")).toBeVisible();

  // Part of a name: the household, with every member, the names and addresses shown and
  // the ID numbers masked as the grant says.
  await page.getByLabel("Find a person or household").fill("xiaoming");
  await page.getByRole("button", { name: "Find" }).click();
  await expect(page.getByRole("status")).toHaveText("Households found: 1.");
  const household = page.getByTestId("household-GC002-0012");
  await expect(household).toContainText("Chen Jun");
  await expect(household).toContainText("Huang Mei");
  await expect(household).toContainText("Chen Xiaoming");
  await expect(household).toContainText("12 Nanhai Avenue");
  await expect(household).not.toContainText("440605198204040044");
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: `${screenshots}/grid-390x844.png`, fullPage: true });

  // Another grid's people and households are not found, whatever is typed.
  for (const other of ["Wang Fang", "GC001-0001", "Li Lei", "Dali"]) {
    await page.getByLabel("Find a person or household").fill(other);
    await page.getByRole("button", { name: "Find" }).click();
    await expect(page.getByRole("status")).toHaveText(`No one in your area matches “${other}”.`);
  }
  await page.getByLabel("Find a person or household").fill("Nanhai");
  await page.getByRole("button", { name: "Find" }).click();
  await expect(page.getByRole("status")).toHaveText("Households found: 2.");
  expect(violations).toEqual([]);
});
