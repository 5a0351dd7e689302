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

/** Signs in at the hub's own sign-in page (the built-in OpenID Connect provider); the
 * person lands on `landing`. */
async function signIn(page: Page, as: string = user, landing: string = "Catalogue", secret: string = password): Promise<void> {
  await page.goto("/console/");
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await page.getByLabel("User name").fill(as);
  await page.getByLabel("Password").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: landing, exact: true })).toBeVisible();
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
  // A name that is no account's might be someone's password typed in the wrong field: it is
  // not written back into the form. An account's name is, with the password to type again.
  await page.getByLabel("User name").fill("not-an-account");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("user name or password is wrong");
  await expect(page.getByLabel("User name")).toHaveValue("");
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("user name or password is wrong");
  await expect(page.getByLabel("User name")).toHaveValue(user);
  await expect(page.getByLabel("Password")).toBeFocused();

  await page.getByLabel("Password").fill(password);
  await page.getByLabel("User name").fill(user);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalogue" })).toBeVisible();
  await expect(page.getByTestId("who")).toHaveText(process.env.CAUSEWAY_PERSON_NAME ?? user);
  // The first Tab reaches a link past the header's links, shown once focused, to the page's
  // main region.
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to main content" });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("main")).toBeFocused();
  // No grant gives this analyst an area of their own: no My area to lead to an empty page.
  await expect(page.getByRole("navigation").getByRole("link", { name: "My area" })).toHaveCount(0);

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
  // Two versions, the second described its grid column: what changed into it, on request.
  const versions = page.getByTestId("versions");
  await expect(versions).toContainText("Version 2, by");
  await expect(versions).toContainText("Version 1, by");
  await versions.getByRole("button", { name: "What changed" }).click();
  await expect(versions).toContainText("grid_id description: — → Grid of the grid-management system");
  await expect(page.getByText("Requests decided within")).toBeVisible();
  await expect(page.getByTestId("freshness")).toHaveText("Live: every query reads the source as it is.");
  await expect(page.getByRole("link", { name: "desk@example.gov" })).toHaveAttribute("href", "mailto:desk@example.gov");
  expect(await seriousViolations(page)).toEqual([]);
  await page.screenshot({ path: `${screenshots}/dataset-1280x800.png`, fullPage: true });

  // Chinese, and back.
  await page.getByRole("button", { name: /Switch to Chinese/ }).click();
  await expect(page.getByRole("heading", { name: "字段" })).toBeVisible();
  await expect(versions).toContainText("grid_id 说明");
  await page.getByRole("link", { name: "返回数据目录" }).click();
  await expect(page.getByRole("heading", { name: "数据目录" })).toBeVisible();
  // The hub's refusals read in Chinese too, with its own sentence after for the particulars.
  await page.getByRole("link", { name: "SQL 工作台" }).click();
  await page.getByLabel("SQL", { exact: true }).fill("SELEC name FROM civil_affairs.residents");
  await page.getByLabel("用途", { exact: true }).fill("testing");
  await page.getByRole("button", { name: "运行" }).click();
  await expect(page.getByRole("alert")).toContainText("SQL 语法有误（原文：syntax error at line 1");
  // A refusal for want of a grant is a sentence in Chinese, with where to ask for one.
  await page.getByLabel("SQL", { exact: true }).fill("SELECT name FROM civil_affairs.residents");
  await page.getByRole("button", { name: "运行" }).click();
  await expect(page.getByRole("alert")).toHaveText(/^您没有以“testing”为用途读取 civil_affairs\.residents 的授权。/);
  await expect(page.getByRole("alert")).not.toContainText("no grant");
  await expect(page.getByTestId("ask-access").getByRole("link", { name: "申请访问 civil_affairs.residents" })).toBeVisible();
  await expect(page.getByRole("link", { name: "跳到主要内容" })).toHaveCount(1);
  await page.getByLabel("SQL", { exact: true }).fill("");
  await page.getByRole("button", { name: /切换到英文/ }).click();
  await page.getByRole("navigation").getByRole("link", { name: "Catalogue" }).click();

  // The supervision page, reached by its address, says whom it is for rather than showing
  // its frame under a refusal.
  await page.evaluate(() => {
    history.pushState({}, "", "/console/supervision");
    dispatchEvent(new PopStateEvent("popstate"));
  });
  await expect(page.getByTestId("not-for-you")).toContainText("Supervision is for security officers, auditors");
  await expect(page.getByTestId("live")).toHaveCount(0);
  await expect(page.getByRole("alert")).toHaveCount(0);
  // So is Accounts: one sentence saying who keeps them, no refusal under an empty frame.
  await page.evaluate(() => {
    history.pushState({}, "", "/console/accounts");
    dispatchEvent(new PopStateEvent("popstate"));
  });
  await expect(page.getByTestId("not-for-you")).toContainText("Accounts are kept by the system administrator");
  await expect(page.getByRole("alert")).toHaveCount(0);
  await page.getByRole("navigation").getByRole("link", { name: "Catalogue" }).click();

  // At a phone's size the catalogue still reads.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole("link", { name: "Residents" })).toBeVisible();
  await page.screenshot({ path: `${screenshots}/catalogue-390x844.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Signed out: the console forgets the token and the hub the refresh token; the next
  // visit starts at the sign-in page again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByText("You are signed out.")).toBeVisible();
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await page.goto("/console/");
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  expect(violations).toEqual([]);
});

test("a reloaded console signs in again, since the token lives only in memory", async ({ page }) => {
  await signIn(page);
  await page.reload();
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
});

test("a console left alone for half an hour signs out, and gives the same person their draft back", async ({ page }) => {
  await page.clock.install();
  await signIn(page);
  const sql = "SELECT town, count(*) AS people FROM civil_affairs.residents GROUP BY town";
  await page.getByRole("link", { name: "SQL workbench" }).click();
  await page.getByLabel("SQL", { exact: true }).fill(sql);
  await page.getByLabel("Purpose", { exact: true }).fill("elderly-care");
  await page.clock.fastForward("20:00");
  // The draft stays while the person looks at another page.
  await page.getByRole("link", { name: "Grants" }).click();
  await expect(page.getByRole("heading", { name: "Grants" })).toBeVisible();
  await page.getByRole("link", { name: "SQL workbench" }).click();
  await expect(page.getByLabel("SQL", { exact: true })).toHaveValue(sql);
  // Twenty minutes of nothing since the click is not yet enough; thirty-one are.
  await page.clock.fastForward("20:00");
  await expect(page.getByTestId("who")).toBeVisible();
  await page.clock.fastForward("09:30");
  await expect(page.getByRole("alert")).toContainText("You will be signed out in a minute");
  await page.clock.fastForward("01:00");
  await expect(page.getByText("You were signed out after 30 minutes without use.")).toBeVisible();
  await expect(page.getByTestId("who")).toHaveCount(0);
  // The warning went with the sign-in.
  await expect(page.getByText("You will be signed out in a minute")).toHaveCount(0);
  // Signing in again leads back to the workbench, with what was written in it.
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/oauth\/authorize\?/);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "SQL workbench" })).toBeVisible();
  await expect(page.getByLabel("SQL", { exact: true })).toHaveValue(sql);
  await expect(page.getByLabel("Purpose", { exact: true })).toHaveValue("elderly-care");
  // An explicit sign-out forgets it.
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page);
  await page.getByRole("link", { name: "SQL workbench" }).click();
  await expect(page.getByLabel("SQL", { exact: true })).toHaveValue("");
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
  // A second request, sent by mistake, is taken back before anyone decides it.
  await analystPage.getByRole("checkbox", { name: "town", exact: true }).check();
  await analystPage.getByLabel("Purpose", { exact: true }).fill("elderly-care-by-mistake");
  await analystPage.getByLabel("Why the purpose needs them").fill("sent twice");
  await analystPage.getByRole("button", { name: "Send the request" }).click();
  await expect(analystPage.getByRole("status")).toContainText("waits for the owner's and the security officer's decisions");
  await analystPage.getByRole("navigation").getByRole("link", { name: "Access requests" }).click();
  const mistaken = analystPage.locator(".request", { hasText: "elderly-care-by-mistake" });
  await mistaken.getByRole("button", { name: "Withdraw the request for civil_affairs.residents" }).click();
  await mistaken.getByRole("button", { name: "Press again to withdraw" }).click();
  await expect(mistaken.locator("h2")).toContainText("withdrawn");
  await expect(mistaken.getByRole("button", { name: /Withdraw/ })).toHaveCount(0);
  await expect(analystPage.locator(".request", { hasText: "home visits in my grid" }).getByRole("button", { name: /Withdraw/ })).toHaveCount(1);
  await analystPage.getByRole("navigation").getByRole("link", { name: "Catalogue" }).click();

  // The publisher tries the grant with a mask and a row filter, sees the rows as the analyst
  // would, and approves it so.
  const publisherPage = await (await browser.newContext()).newPage();
  await signIn(publisherPage, publisher);
  await publisherPage.getByRole("link", { name: "Access requests" }).click();
  await expect(publisherPage.getByText("waiting", { exact: true })).toBeVisible();
  await publisherPage.getByRole("button", { name: "Review" }).click();
  await publisherPage.getByLabel("How name is shown").selectOption("partial");
  // A misspelt column in the row filter reads as a sentence naming it and the dataset's
  // columns, not as the query engine's error about a grant the dry run made up.
  await publisherPage.getByLabel("Row filter").fill("grd_id = 'GC-001'");
  await publisherPage.getByRole("button", { name: "Dry run" }).click();
  const misspelt = publisherPage.getByRole("alert");
  await expect(misspelt).toContainText("The row filter names a column “grd_id” that the dataset does not have. Its columns are:");
  await expect(misspelt).toContainText(/Its columns are: .*\bgrid_id\b/);
  await expect(misspelt).not.toContainText("Schema error");
  await expect(misspelt).not.toContainText("grant-");
  await publisherPage.getByLabel("Row filter").fill("grid_id = 'GC-001'");
  // Nothing is approved unseen: Approve waits for a dry run of the decision as it stands.
  await expect(publisherPage.getByRole("button", { name: "Approve" })).toBeDisabled();
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
  // What the publisher decided, and on what terms, is on the request before the officer opens it.
  const reviews = officerPage.locator(".reviews").first();
  await expect(reviews).toContainText("Owner's publisher: approved by li.na on");
  await expect(reviews).toContainText("row filter grid_id = 'GC-001'");
  await expect(reviews).toContainText("Security officer: not decided yet");
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
  await expect(officerPage.getByRole("status").filter({ hasText: "shown" })).toContainText("Live");

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
  // The filters match names exactly, so the names there are are offered as one types.
  await expect(officerPage.locator("#filter-datasets option[value='civil_affairs.residents']")).toHaveCount(1);
  await expect(officerPage.locator("#filter-purposes option[value='elderly-care']")).toHaveCount(1);
  await officerPage.getByLabel("Purpose", { exact: true }).fill("elderly-care");
  await officerPage.getByRole("button", { name: "Apply filters" }).click();
  await expect(live.locator("tbody tr").first()).toContainText("elderly-care");
  await expect(live).not.toContainText("audit.read");
  // The charts count it: one query of civil affairs today, and its one row.
  await expect(officerPage.getByTestId("queries-chart").getByRole("img")).toHaveAttribute("aria-label", /civil_affairs 1$/);
  await expect(officerPage.getByTestId("rows-chart").getByRole("img")).toHaveAttribute("aria-label", /civil_affairs 1$/);
  expect(await seriousViolations(officerPage)).toEqual([]);
  await officerPage.screenshot({ path: `${screenshots}/supervision-1280x800.png`, fullPage: true });
  // In Chinese, the actions are words too (the code stays beside them).
  await officerPage.getByRole("button", { name: /Switch to Chinese/ }).click();
  await expect(live.locator("tr", { hasText: "query.finished" }).first()).toContainText("查询完成");
  await officerPage.getByRole("button", { name: /切换到英文/ }).click();

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
  await grant.getByLabel(/^Why grant grant-\w+ is revoked$/).fill("home visits moved to the grid office");
  await grant.getByRole("button", { name: "Press again to revoke" }).click();
  await expect(officerPage.locator(".el-card", { hasText: "requested by wang.fang" })).toHaveCount(0);

  // The analyst's next query is refused, in a sentence, and the officer sees the refusal.
  await analystPage.getByRole("button", { name: "Run" }).click();
  await expect(analystPage.getByRole("alert")).toContainText(
    "You have no grant to read civil_affairs.residents for the purpose “elderly-care”. Ask for access on the dataset's page",
  );
  // The next step is a link away: the dataset's page, with its request form.
  await analystPage.getByTestId("ask-access").getByRole("link", { name: "Ask for access to civil_affairs.residents" }).click();
  await expect(analystPage.getByRole("heading", { name: "Request access" })).toBeVisible();
  await officerPage.getByRole("link", { name: "Supervision" }).click();
  const refusal = officerPage.getByTestId("live").locator("tr", { hasText: "query.refused" }).first();
  await expect(refusal).toContainText("refused");
  await expect(refusal).toContainText("grant");
});

test("a grid worker on a phone finds a household of their grid, and nobody of another", async ({ browser }) => {
  const worker = process.env.CAUSEWAY_GRID_WORKER ?? "";
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  const violations = policyViolations(page);
  // A grid worker lands on their area, not on the catalogue, and the menu leads back to it.
  await signIn(page, worker, "My area");
  await expect(page.getByRole("navigation").getByRole("link", { name: "My area" })).toBeVisible();
  // The area in words: the register's title and the grid, not the grant's SQL.
  await expect(page.getByText("Grid id: GC-002")).toBeVisible();
  await expect(page.getByText("grid_id = ")).toHaveCount(0);
  await expect(page.getByText("Masked under your grant: ID number.")).toBeVisible();

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

  // The grant, as the Grants page shows it: the ID number masked by its classification.
  await page.getByRole("link", { name: "Grants" }).click();
  const grant = page.locator(".el-card", { hasText: "account zhou.min" });
  await expect(grant).toContainText("Masked by classification");
  await expect(grant).toContainText("id_number: partial (first 0, last 4)");

  // Their own account, from their name: who the hub takes them to be, and a new password,
  // after which this sign-in has ended and the new password signs them in.
  await page.getByTestId("who").click();
  await expect(page.getByRole("heading", { name: "My account" })).toBeVisible();
  await expect(page.getByText("grid_id: GC-002")).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await page.getByLabel("Current password").fill(password);
  await page.getByLabel("New password", { exact: true }).fill("a new long password");
  await page.getByLabel("New password again").fill("a new long password");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Your password is changed")).toBeVisible();
  await signIn(page, worker, "My area", "a new long password");
  expect(violations).toEqual([]);
});

test("a system administrator makes a person's account, which works once an officer approves it", async ({ browser }) => {
  const admin = process.env.CAUSEWAY_SYSTEM_ADMIN ?? "";
  const officer = process.env.CAUSEWAY_OFFICER ?? "";
  const adminPage = await (await browser.newContext()).newPage();
  const violations = policyViolations(adminPage);
  await signIn(adminPage, admin);
  // The hub refuses a request for access from an administrative account: no form for one,
  // but a sentence saying who asks.
  await adminPage.getByRole("link", { name: "Residents" }).click();
  await expect(adminPage.getByTestId("asks-for-none")).toContainText("Accounts with an administrative role read no data");
  await expect(adminPage.getByRole("button", { name: "Send the request" })).toHaveCount(0);
  await adminPage.getByRole("link", { name: "Accounts" }).click();
  await expect(adminPage.getByRole("heading", { name: "Accounts" })).toBeVisible();
  await adminPage.getByLabel("User name").fill("chen.jing");
  await adminPage.getByLabel("Full name").fill("Chen Jing");
  await adminPage.getByLabel("Department").fill("civil_affairs");
  await adminPage.getByRole("checkbox", { name: "Analyst" }).check();
  await adminPage.getByLabel("Attributes").fill("grid_id=GC-002");
  await adminPage.getByRole("button", { name: "Create the account" }).click();
  const made = adminPage.getByTestId("new-secret");
  await expect(made).toContainText("The first password of chen.jing:");
  const first = (await made.locator("code").textContent())?.trim() ?? "";
  expect(first.length).toBeGreaterThan(15);
  const row = adminPage.getByTestId("account-chen.jing");
  await expect(row).toContainText("waits for approval");
  await expect(row).toContainText("grid_id=GC-002");
  // Administrative accounts are the machine's: no button changes them here. Nor can the
  // administrator disable their own account, which nothing here could enable again.
  await expect(adminPage.getByTestId(`account-${officer}`).getByRole("button")).toHaveCount(0);
  await expect(adminPage.getByTestId(`account-${admin}`).getByRole("button", { name: "Disable" })).toHaveCount(0);
  expect(await seriousViolations(adminPage)).toEqual([]);
  await adminPage.screenshot({ path: `${screenshots}/accounts-1280x800.png`, fullPage: true });

  // Before an officer approves it, the password does not sign in, and the page says why.
  const newcomer = await (await browser.newContext()).newPage();
  await newcomer.goto("/console/");
  await newcomer.getByLabel("User name").fill("chen.jing");
  await newcomer.getByLabel("Password").fill(first);
  await newcomer.getByRole("button", { name: "Sign in" }).click();
  await expect(newcomer.getByRole("alert")).toContainText("waits for a security administrator's approval");

  // The officer approves what they see; the administrator cannot.
  await expect(row.getByRole("button", { name: "Approve" })).toHaveCount(0);
  const officerPage = await (await browser.newContext()).newPage();
  await signIn(officerPage, officer);
  await officerPage.getByRole("link", { name: "Accounts" }).click();
  const waiting = officerPage.getByTestId("account-chen.jing");
  await expect(waiting.getByRole("button")).toHaveCount(2);
  await waiting.getByRole("button", { name: "Approve" }).click();
  await expect(waiting).toContainText(`approved by ${officer}`);

  // An account the officer will not approve is refused, with a reason the administrator reads.
  await adminPage.getByLabel("User name").fill("wu.fang");
  await adminPage.getByLabel("Full name").fill("Wu Fang");
  await adminPage.getByLabel("Department").fill("civil_affairs");
  await adminPage.getByRole("checkbox", { name: "Analyst" }).check();
  await adminPage.getByRole("button", { name: "Create the account" }).click();
  await expect(adminPage.getByTestId("account-wu.fang")).toContainText("waits for approval");
  await officerPage.getByRole("link", { name: "Grants" }).click();
  await officerPage.getByRole("link", { name: "Accounts" }).click();
  const refused = officerPage.getByTestId("account-wu.fang");
  await refused.getByRole("button", { name: "Refuse", exact: true }).click();
  await refused.getByRole("button", { name: "Refuse and disable" }).click();
  await expect(officerPage.getByRole("alert")).toContainText("Write why the account is refused");
  await refused.getByLabel("Why it is refused").fill("No access request on file");
  await refused.getByRole("button", { name: "Refuse and disable" }).click();
  await expect(refused).toContainText(`by ${officer}: No access request on file`);
  await adminPage.getByRole("link", { name: "Grants" }).click();
  await adminPage.getByRole("link", { name: "Accounts" }).click();
  await expect(adminPage.getByTestId("account-wu.fang")).toContainText("Refused");
  await expect(adminPage.getByTestId("account-wu.fang").getByRole("button")).toHaveCount(0);

  // Now the person signs in with it.
  await newcomer.getByLabel("User name").fill("chen.jing");
  await newcomer.getByLabel("Password").fill(first);
  await newcomer.getByRole("button", { name: "Sign in" }).click();
  await expect(newcomer.getByTestId("who")).toHaveText("Chen Jing");

  // The administrator disables the account: its sign-in ends at its next call.
  await adminPage.getByTestId("account-chen.jing").getByRole("button", { name: "Disable" }).click();
  await adminPage.getByTestId("account-chen.jing").getByRole("button", { name: "Press again to disable" }).click();
  await expect(adminPage.getByTestId("account-chen.jing")).toContainText("disabled");
  await newcomer.getByRole("link", { name: "Grants" }).click();
  await expect(newcomer.getByRole("alert")).toContainText("Your sign-in has ended");
  // The officer's feed names the account each account action was on.
  await officerPage.getByRole("link", { name: "Supervision" }).click();
  await expect(
    officerPage.getByTestId("live").locator("tr", { hasText: "client.disabled" }).first(),
  ).toContainText("account chen.jing");
  expect(violations).toEqual([]);
});

test("an analyst asks to verify records; the publisher grants fewer attempts than asked", async ({ browser }) => {
  const publisher = process.env.CAUSEWAY_PUBLISHER ?? "";
  const analystPage = await (await browser.newContext()).newPage();
  await signIn(analystPage);
  await analystPage.getByRole("link", { name: "Identity register" }).click();
  // The published conditions say what is approved at once, and for whom: not for her.
  await expect(analystPage.getByTestId("permits")).toContainText(
    "Verify records only of id_number, name for benefit-eligibility, asked by benefits, for up to 30 days " +
      "(Answers say only whether all columns match. At most 3 attempts per person and 10000 records a day.)",
  );
  for (const column of ["id_number", "name"]) {
    await analystPage.getByRole("checkbox", { name: column, exact: true }).check();
  }
  await analystPage.getByLabel("Kind", { exact: true }).selectOption("verify");
  // The purposes in use are offered (the published conditions' first), any other still typed.
  await expect(analystPage.locator("#ask-purposes option[value='benefit-eligibility']")).toHaveCount(1);
  await expect(analystPage.getByText("Purposes already in use: benefit-eligibility")).toBeVisible();
  await analystPage.getByRole("checkbox", { name: "Also ask which of a record's columns match" }).check();
  await analystPage.getByLabel("Purpose", { exact: true }).fill("benefit-eligibility");
  await analystPage.getByLabel("Why the purpose needs them").fill("claimants' identities");
  await analystPage.getByRole("button", { name: "Send the request" }).click();
  await expect(analystPage.getByRole("status")).toContainText("waits for the owner's and the security officer's decisions");

  // The publisher sees the terms asked for, narrows the attempts, tries it and approves.
  const publisherPage = await (await browser.newContext()).newPage();
  await signIn(publisherPage, publisher);
  await publisherPage.getByRole("link", { name: "Access requests" }).click();
  const card = publisherPage.locator(".request", { hasText: "civil_affairs.register" });
  await expect(card.getByTestId("asked-terms")).toContainText(
    "Answers say which columns match. At most 3 attempts per person and 10000 records a day.",
  );
  await card.getByRole("button", { name: "Review" }).click();
  await card.getByLabel("Attempts per person a day").fill("2");
  await card.getByRole("button", { name: "Dry run" }).click();
  await expect(card.getByTestId("dry-run")).toContainText("At most 2 attempts per person and 10000 records a day.");
  await expect(card.getByTestId("dry-run")).toContainText("and for each of id_number, name whether it matches");
  // A change after the dry run is tried again before it is approved.
  await card.getByLabel("Attempts per person a day").fill("1");
  await expect(card.getByRole("button", { name: "Approve" })).toBeDisabled();
  await card.getByLabel("Attempts per person a day").fill("2");
  await expect(card.getByTestId("dry-run")).not.toContainText("Wang Fang");
  expect(await seriousViolations(publisherPage)).toEqual([]);
  await publisherPage.screenshot({ path: `${screenshots}/verify-review-1280x800.png`, fullPage: true });
  await card.getByRole("button", { name: "Approve" }).click();
  await expect(card.locator(".reviews")).toContainText("At most 2 attempts per person");
});
